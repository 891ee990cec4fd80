/**
 * The federation listener's authentication guard (server-server "Request Authentication"): a
 * request counts as coming from a server only with a valid X-Matrix signature by one of that
 * server's current keys, over the method, the target as sent, our name and the body. Everything
 * else is 401 M_UNAUTHORIZED: no or a malformed header, a `destination` that is not us, an origin
 * claiming to be us, a key we cannot find, a wrong signature.
 *
 * Every request that passes is reported to the `onServerContact` listeners: a server that speaks
 * to us is up, so whoever backs off from it (the sender) may retry at once.
 */
import type { FastifyRequest } from 'fastify';
import { ErrCode, MatrixError } from '../../core/errors.js';
import { decodeBase64 } from '../../core/base64.js';
import { parseXMatrixHeader, verifyRequestSignature } from './x-matrix.js';

export interface ServerAuthDeps {
  serverName: string;
  /** The origin's current key `keyId` (fetched when unknown), or undefined. */
  requestKey(origin: string, keyId: string): Promise<Uint8Array | undefined>;
  /** Told of each validly signed request's origin; a throwing listener does not fail the request. */
  onServerContact?: (origin: string) => void;
  /** Throws (503) while our clock is wrong: "a current key of the origin" means valid now. */
  clock?: { assertSane(): void };
}

export interface ServerAuthenticator {
  /** The authenticated origin server of a request, or 401 M_UNAUTHORIZED. */
  requireServer(req: FastifyRequest): Promise<string>;
}

const unauthorized = (message: string) => new MatrixError(401, ErrCode.UNAUTHORIZED, message);

export function createServerAuthenticator(deps: ServerAuthDeps): ServerAuthenticator {
  return {
    async requireServer(req) {
      const header = req.headers.authorization;
      if (header === undefined) throw unauthorized('Missing X-Matrix Authorization header');
      const parsed = parseXMatrixHeader(header);
      if (!parsed.ok) throw unauthorized(parsed.reason);
      const { auth } = parsed;
      if (auth.destination !== undefined && auth.destination !== deps.serverName) {
        throw unauthorized(`Request is for ${auth.destination}, not ${deps.serverName}`);
      }
      if (auth.origin === deps.serverName) throw unauthorized('Request claims to come from this server');
      try {
        decodeBase64(auth.sig);
      } catch {
        throw unauthorized('X-Matrix sig is not base64');
      }
      deps.clock?.assertSane();
      const publicKey = await deps.requestKey(auth.origin, auth.key);
      if (!publicKey) throw unauthorized(`No current key ${auth.key} of ${auth.origin}`);
      // The target exactly as sent (path and query), before any routing rewrite.
      const uri = req.raw.url ?? req.url;
      const content = req.body;
      if (!verifyRequestSignature(auth, { method: req.method, uri, destination: deps.serverName, ...(content !== undefined ? { content } : {}) }, publicKey)) {
        throw unauthorized(`Invalid signature by ${auth.origin} ${auth.key}`);
      }
      try {
        deps.onServerContact?.(auth.origin);
      } catch {
        // A listener's failure is its own; the request is authentic.
      }
      return auth.origin;
    },
  };
}
