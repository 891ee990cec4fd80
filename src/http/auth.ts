/**
 * Access-token authentication of client requests (client-server-api "Using access tokens"): the
 * token comes from `Authorization: Bearer` or, deprecated but still used by tools, `?access_token=`.
 */
import type { FastifyRequest } from 'fastify';
import type { AccountService, Requester } from '../accounts/accounts.js';
import { ErrCode, MatrixError } from '../core/errors.js';

export interface Authenticator {
  /** The requester, or 401 M_MISSING_TOKEN / M_UNKNOWN_TOKEN. */
  requireUser(req: FastifyRequest): Promise<Requester>;
}

/** The access token of a request, if it carries one. */
function accessTokenOf(req: FastifyRequest): string | undefined {
  const header = req.headers.authorization;
  if (header !== undefined) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    return match?.[1];
  }
  const query = req.query as Record<string, unknown> | undefined;
  const token = query?.access_token;
  return typeof token === 'string' && token !== '' ? token : undefined;
}

export function createAuthenticator(accounts: Pick<AccountService, 'authenticateToken'>): Authenticator {
  return {
    async requireUser(req: FastifyRequest): Promise<Requester> {
      const token = accessTokenOf(req);
      if (token === undefined) throw new MatrixError(401, ErrCode.MISSING_TOKEN, 'Missing access token');
      const requester = await accounts.authenticateToken(token, { ip: req.ip, userAgent: req.headers['user-agent'] ?? '' });
      if (!requester) {
        // soft_logout false: the session is gone for good, clients must log in again ("Soft logout").
        throw new MatrixError(401, ErrCode.UNKNOWN_TOKEN, 'Unknown access token', { soft_logout: false });
      }
      return requester;
    },
  };
}
