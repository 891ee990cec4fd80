/**
 * The federation listener: the shared HTTP base (`http/base-server.ts`: JSON bodies, the Matrix
 * error mapping, 404/405 M_UNRECOGNIZED as server-server "Unsupported endpoints" asks, graceful
 * close) over TLS, or plain HTTP behind a reverse proxy. No CORS: browsers do not speak federation.
 * JSON answers of 1 KiB or more go gzip-compressed to peers that accept it (`compression.ts`).
 */
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { createBaseServer } from '../../http/base-server.js';
import { installAnswerCompression } from './compression.js';

/**
 * Largest request body: a `/send` transaction holds at most 50 PDUs of at most 65536 bytes and 100
 * EDUs (server-server "Transactions"), a little over 3 MB; anything bigger is not a valid request.
 */
export const FEDERATION_BODY_LIMIT = 4 * 1024 * 1024;

export interface FederationServerOptions {
  logger: Logger;
  /** PEM certificate and key; absent: plain HTTP (behind a TLS-terminating reverse proxy). */
  tls?: { cert: Buffer; key: Buffer };
}

export function createFederationServer(opts: FederationServerOptions): FastifyInstance {
  const app = createBaseServer({
    logger: opts.logger,
    bodyLimit: FEDERATION_BODY_LIMIT,
    ...(opts.tls ? { https: { cert: opts.tls.cert, key: opts.tls.key } } : {}),
  });
  installAnswerCompression(app);
  return app;
}
