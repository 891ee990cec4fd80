/** Ending sessions (client-server-api "Logout"). */
import type { FastifyInstance } from 'fastify';
import type { AccountService } from '../../accounts/accounts.js';
import type { Authenticator } from '../../http/auth.js';

export interface LogoutDeps {
  auth: Authenticator;
  accounts: Pick<AccountService, 'logout' | 'logoutAll'>;
}

export function registerLogoutRoutes(app: FastifyInstance, deps: LogoutDeps): void {
  /** POST /_matrix/client/v3/logout: revokes this access token and deletes its device. */
  app.post('/_matrix/client/v3/logout', async (req) => {
    const requester = await deps.auth.requireUser(req);
    await deps.accounts.logout(requester);
    return {};
  });

  /** POST /_matrix/client/v3/logout/all: revokes every access token of the user. */
  app.post('/_matrix/client/v3/logout/all', async (req) => {
    const requester = await deps.auth.requireUser(req);
    await deps.accounts.logoutAll(requester.userId);
    return {};
  });
}
