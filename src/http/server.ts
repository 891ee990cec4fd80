/**
 * The HTTP server of the Client-Server API: the shared base (`base-server.ts`: JSON bodies, the
 * Matrix error mapping, 404/405, graceful close) plus what only clients need:
 * - CORS headers on every response so browser clients work (client-server-api "Web Browser Clients");
 * - the legacy `r0` prefix served as `v3`;
 * - CBOR bodies and answers for the clients that ask (MSC3079, `low-bandwidth/`).
 */
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { installIdentifierParamChecks } from './identifier-params.js';
import { createBaseServer } from './base-server.js';
import { installCborBodies } from './low-bandwidth/install.js';

/** Largest request body accepted; single events are further capped at 65536 bytes by the room engine. */
const BODY_LIMIT = 1024 * 1024;

const LEGACY_PREFIX = '/_matrix/client/r0/';
const CURRENT_PREFIX = '/_matrix/client/v3/';

export interface HttpServerOptions {
  logger: Logger;
  /** Called when the server starts closing, before it drains: ends waits such as /sync long-polls. */
  onClosing?: () => void;
}

export function createHttpServer(opts: HttpServerOptions): FastifyInstance {
  const app = createBaseServer({
    logger: opts.logger,
    bodyLimit: BODY_LIMIT,
    onClosing: opts.onClosing,
    // r0 is the pre-v1.1 name of the same endpoints; clients still use it (matrix-nio 0.20 does),
    // and Synapse serves both.
    rewriteUrl: (url) => (url.startsWith(LEGACY_PREFIX) ? CURRENT_PREFIX + url.slice(LEGACY_PREFIX.length) : url),
  });

  // Callback-style: answering from a hook means sending without calling `done` (fastify "Hooks").
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
  // Before the identifier checks, so that their refusals are written in the format the client asked for.
  installCborBodies(app);
  installIdentifierParamChecks(app);
  return app;
}
