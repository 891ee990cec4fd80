/**
 * The signed-in account (client-server-api "Current account information", "Password management",
 * "Account deactivation").
 */
import type { FastifyInstance } from 'fastify';
import type { AccountService } from '../../accounts/accounts.js';
import type { UserInteractiveAuth } from '../../accounts/uia.js';
import type { Authenticator } from '../../http/auth.js';
import { uiaOperation } from './uia-operation.js';
import { ErrCode, MatrixError } from '../../core/errors.js';

export interface AccountDeps {
  auth: Authenticator;
  accounts: Pick<AccountService, 'setPassword' | 'deactivate'>;
  uia: UserInteractiveAuth;
  /** Leaves every room the user is in or invited to (before the account goes). */
  leaveAllRooms(userId: string): Promise<void>;
}

interface PasswordBody {
  auth?: unknown;
  new_password: string;
  logout_devices?: boolean;
}

const passwordBodySchema = {
  type: 'object',
  required: ['new_password'],
  properties: {
    auth: { type: 'object' },
    new_password: { type: 'string', minLength: 1, maxLength: 512 },
    logout_devices: { type: 'boolean' },
  },
} as const;

export function registerAccountRoutes(app: FastifyInstance, deps: AccountDeps): void {
  /** GET /_matrix/client/v3/account/whoami */
  app.get('/_matrix/client/v3/account/whoami', async (req) => {
    const requester = await deps.auth.requireUser(req);
    return { user_id: requester.userId, device_id: requester.deviceId, is_guest: false };
  });

  /**
   * POST /_matrix/client/v3/account/password: UIA with the current password; `logout_devices`
   * (default true) logs out every other device.
   */
  app.post<{ Body: PasswordBody }>('/_matrix/client/v3/account/password', { schema: { body: passwordBodySchema } }, async (req) => {
    const requester = await deps.auth.requireUser(req);
    await deps.uia.authenticate(req.body.auth, {
      operation: uiaOperation(req),
      flows: [{ stages: ['m.login.password'] }],
      userId: requester.userId,
    });
    await deps.accounts.setPassword(requester.userId, req.body.new_password, {
      logoutDevices: req.body.logout_devices ?? true,
      keepDeviceId: requester.deviceId,
    });
    return {};
  });

  /**
   * POST /_matrix/client/v3/account/deactivate: UIA with the password, then the user leaves every
   * room (and rejects every invite), and loses password, profile, devices and tokens for good; the
   * user id is never handed out again. With `erase`, the events they sent are from then on served
   * redacted to everyone who was not joined when they were sent (client-server "Account
   * deactivation": "the server should ... hide ... messages", as Synapse does; rooms/visibility.ts).
   */
  app.post<{ Body: { auth?: unknown; erase?: unknown } | undefined }>('/_matrix/client/v3/account/deactivate', async (req) => {
    const requester = await deps.auth.requireUser(req);
    const body = req.body ?? {};
    if (body.erase !== undefined && typeof body.erase !== 'boolean') throw new MatrixError(400, ErrCode.BAD_JSON, 'erase must be a boolean');
    await deps.uia.authenticate(body.auth, {
      operation: uiaOperation(req),
      flows: [{ stages: ['m.login.password'] }],
      userId: requester.userId,
    });
    await deps.leaveAllRooms(requester.userId);
    await deps.accounts.deactivate(requester.userId, { erase: body.erase === true });
    // No identity server is ever bound, so there is nothing to unbind.
    return { id_server_unbind_result: 'no-support' };
  });

  /** GET /_matrix/client/v3/account/3pid: Hearth binds no third-party ids (m.3pid_changes is off). */
  app.get('/_matrix/client/v3/account/3pid', async (req) => {
    await deps.auth.requireUser(req);
    return { threepids: [] };
  });
}
