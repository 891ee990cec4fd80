/**
 * The fastify base both listeners share (the Client-Server API in `server.ts`, federation in
 * `federation/transport/listener.ts`):
 * - every error body is `{ errcode, error }` (client-server-api "API Standards");
 * - bodies are parsed as JSON whatever their content type, within a size limit (`json-body.ts`):
 *   not JSON -> 400 M_NOT_JSON, too large -> 413 M_TOO_LARGE;
 * - unknown paths -> 404 M_UNRECOGNIZED, a known path with the wrong method -> 405 M_UNRECOGNIZED
 *   (server-server-api "Unsupported endpoints" says the same for federation);
 * - quiet logging (no per-request lines) and a graceful close that lets running requests finish.
 */
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { ServerOptions as HttpsServerOptions } from 'node:https';
import FindMyWay from 'find-my-way';
import type { Logger } from 'pino';
import { ErrCode, MatrixError } from '../core/errors.js';
import { parseJsonBody } from './json-body.js';

export interface BaseServerOptions {
  logger: Logger;
  /** Largest request body accepted. */
  bodyLimit: number;
  /** Called when the server starts closing, before it drains: ends waits such as /sync long-polls. */
  onClosing?: () => void;
  /** Serve HTTPS with this certificate and key instead of plain HTTP. */
  https?: Pick<HttpsServerOptions, 'cert' | 'key'>;
  /** Rewrites a request URL before routing (the client API maps the legacy r0 prefix to v3). */
  rewriteUrl?: (url: string) => string;
}

const JSON_WITH_CHARSET = 'application/json; charset=utf-8';

/** How long a closing server lets running requests finish before it cuts their connections. */
const DRAIN_TIMEOUT_MS = 3000;

export function createBaseServer(opts: BaseServerOptions): FastifyInstance {
  const rewrite = opts.rewriteUrl;
  const app = Fastify({
    loggerInstance: opts.logger as unknown as FastifyBaseLogger,
    // Quiet by default: no per-request log lines (the gateway logs what matters itself).
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: opts.bodyLimit,
    // Matrix ids in paths contain ':' and '!'; keep URLs as sent (decoded per segment by the router).
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 1000 },
    return503OnClosing: true,
    // After draining (preClose below) every connection left is idle or stuck: close them all, or a
    // peer's idle keep-alive connection would hold the process open.
    forceCloseConnections: true,
    // Matrix bodies are JSON with exact types: `"user": 7` is a bad request, not the string "7".
    ajv: { customOptions: { coerceTypes: false } },
    ...(opts.https ? { https: opts.https } : {}),
    ...(rewrite ? { rewriteUrl: (req: { url?: string }) => rewrite(req.url ?? '/') } : {}),
  }) as unknown as FastifyInstance;

  // A shadow router of every registered route, to tell "unknown path" (404) from "wrong method" (405).
  const known = FindMyWay();
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    for (const m of methods) {
      if (m === 'HEAD') continue;
      try {
        known.on(m as 'GET', route.url, () => undefined);
      } catch {
        // Already known (fastify registers HEAD alongside GET); nothing to do.
      }
    }
  });

  // Peers do not always send a JSON content type; the Matrix APIs are JSON-only, so parse every body.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body: Buffer, done) => {
    try {
      done(null, parseJsonBody(body));
    } catch (err) {
      done(err as Error, undefined);
    }
  });

  // Graceful close: stop waits (long-polls), let running requests finish (their responses say
  // `Connection: close`), then fastify cuts whatever connections remain. The hooks are
  // callback-style: they run for every request and do no I/O, and an async hook costs a promise.
  let closing = false;
  let inFlight = 0;
  let drained: (() => void) | undefined;
  app.addHook('onRequest', (_req, reply, done) => {
    inFlight++;
    reply.raw.once('close', () => {
      inFlight--;
      if (inFlight === 0) drained?.();
    });
    done();
  });
  app.addHook('onSend', (_req, reply, payload, done) => {
    if (closing) reply.header('connection', 'close');
    // fastify labels JSON `application/json; charset=utf-8`; Synapse sends `application/json`, and
    // some clients and test tools compare the header (JSON is UTF-8 by definition, RFC 8259 8.1).
    if (reply.getHeader('content-type') === JSON_WITH_CHARSET) reply.header('content-type', 'application/json');
    done(null, payload);
  });
  app.addHook('preClose', async () => {
    closing = true;
    opts.onClosing?.();
    if (inFlight === 0) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, DRAIN_TIMEOUT_MS);
      drained = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  });

  app.setErrorHandler((err: unknown, req: FastifyRequest, reply: FastifyReply) => {
    if (err instanceof MatrixError) {
      // RFC 9110 Retry-After beside a 429's retry_after_ms, for clients and proxies that read headers.
      const retryAfterMs = err.extra.retry_after_ms;
      if (typeof retryAfterMs === 'number') reply.header('retry-after', String(Math.ceil(retryAfterMs / 1000)));
      reply.code(err.status).send(err.toJSON());
      return;
    }
    const e = err as { statusCode?: number; code?: string; message?: string; validation?: unknown };
    if (e.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      reply.code(413).send({ errcode: ErrCode.TOO_LARGE, error: 'Request body too large' });
      return;
    }
    if (e.validation) {
      reply.code(400).send({ errcode: ErrCode.BAD_JSON, error: e.message ?? 'Invalid request' });
      return;
    }
    if (e.statusCode && e.statusCode >= 400 && e.statusCode < 500) {
      reply.code(e.statusCode).send({ errcode: ErrCode.UNKNOWN, error: e.message ?? 'Bad request' });
      return;
    }
    req.log.error({ err, url: req.url, method: req.method }, 'request failed');
    reply.code(500).send({ errcode: ErrCode.UNKNOWN, error: 'Internal server error' });
  });

  app.setNotFoundHandler((req, reply) => {
    if (req.method === 'OPTIONS') return reply.code(204).send();
    const path = req.url.split('?')[0] ?? req.url;
    const otherMethod = ['GET', 'PUT', 'POST', 'DELETE'].some(
      (m) => m !== req.method && known.find(m as 'GET', path) !== null,
    );
    const status = otherMethod ? 405 : 404;
    reply.code(status).send({ errcode: ErrCode.UNRECOGNIZED, error: 'Unrecognized request' });
  });

  return app;
}
