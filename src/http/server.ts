/**
 * The HTTP server of the Client-Server API: fastify with Matrix error mapping.
 * - every error body is `{ errcode, error }` (client-server-api "API Standards");
 * - bodies that are not JSON -> 400 M_NOT_JSON; unknown paths -> 404 M_UNRECOGNIZED, a known path
 *   with the wrong method -> 405 M_UNRECOGNIZED;
 * - CORS headers on every response so browser clients work (client-server-api "Web Browser Clients").
 */
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyRequest, type FastifyReply } from 'fastify';
import FindMyWay from 'find-my-way';
import type { Logger } from 'pino';
import { ErrCode, MatrixError } from '../core/errors.js';

/** Largest request body accepted; single events are further capped at 65536 bytes by the room engine. */
const BODY_LIMIT = 1024 * 1024;

const LEGACY_PREFIX = '/_matrix/client/r0/';
const CURRENT_PREFIX = '/_matrix/client/v3/';

export interface HttpServerOptions {
  logger: Logger;
  /** Called when the server starts closing, before it drains: ends waits such as /sync long-polls. */
  onClosing?: () => void;
}

/** How long a closing server lets running requests finish before it cuts their connections. */
const DRAIN_TIMEOUT_MS = 3000;

export function createHttpServer(opts: HttpServerOptions): FastifyInstance {
  const app = Fastify({
    loggerInstance: opts.logger as unknown as FastifyBaseLogger,
    // Quiet by default: no per-request log lines (the gateway logs what matters itself).
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: BODY_LIMIT,
    // Matrix ids in paths contain ':' and '!'; keep URLs as sent (decoded per segment by the router).
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 1000 },
    return503OnClosing: true,
    // After draining (preClose below) every connection left is idle or stuck: close them all, or a
    // client's idle keep-alive connection would hold the process open.
    forceCloseConnections: true,
    // Matrix bodies are JSON with exact types: `"user": 7` is a bad request, not the string "7".
    ajv: { customOptions: { coerceTypes: false } },
    // r0 is the pre-v1.1 name of the same endpoints; clients still use it (matrix-nio 0.20 does),
    // and Synapse serves both.
    rewriteUrl: (req) => {
      const url = req.url ?? '/';
      return url.startsWith(LEGACY_PREFIX) ? CURRENT_PREFIX + url.slice(LEGACY_PREFIX.length) : url;
    },
  });

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

  // Clients do not always send a JSON content type; the Matrix APIs are JSON-only, so parse every body.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body: Buffer, done) => {
    if (body.length === 0) return done(null, undefined);
    try {
      done(null, JSON.parse(body.toString('utf8')));
    } catch {
      done(new MatrixError(400, ErrCode.NOT_JSON, 'Content not JSON.'), undefined);
    }
  });

  // The hooks below run for every request and do no I/O, so they are callback-style: an async hook
  // costs each request a promise and a microtask hop per hook. Answering from a callback-style hook
  // means sending without calling `done` (fastify "Hooks": respond to a request from a hook).
  app.addHook('onRequest', (req, reply, done) => {
    reply.header('Access-Control-Allow-Origin', '*');
    reply.header('Access-Control-Allow-Methods', 'GET, POST, PUT, DELETE, OPTIONS');
    reply.header('Access-Control-Allow-Headers', 'X-Requested-With, Content-Type, Authorization');
    if (req.method === 'OPTIONS') {
      reply.code(204).send();
      return;
    }
    done();
  });

  // Graceful close: stop waits (long-polls), let running requests finish (their responses say
  // `Connection: close`), then fastify cuts whatever connections remain.
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
