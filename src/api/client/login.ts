/** Password login (client-server-api "Login"). */
import type { FastifyInstance } from 'fastify';
import type { AccountService } from '../../accounts/accounts.js';
import { ErrCode, MatrixError } from '../../core/errors.js';
import type { ClientRateLimits } from '../../limits/client-limits.js';
import { clientWellKnown } from './well-known.js';

export interface LoginDeps {
  accounts: Pick<AccountService, 'loginWithPassword' | 'serverName' | 'resolveLoginUser'>;
  publicBaseUrl: string;
  /** rc_login (limits/client-limits.ts); none: unlimited. */
  limits?: ClientRateLimits;
}

interface LoginBody {
  type: string;
  identifier?: { type: string; user?: string };
  /** Deprecated top-level form of `identifier: { type: 'm.id.user', user }`, still sent by older clients. */
  user?: string;
  password?: string;
  device_id?: string;
  initial_device_display_name?: string;
}

const loginBodySchema = {
  type: 'object',
  required: ['type'],
  properties: {
    type: { type: 'string' },
    identifier: { type: 'object', required: ['type'], properties: { type: { type: 'string' }, user: { type: 'string' } } },
    user: { type: 'string' },
    password: { type: 'string' },
    // No NUL: device ids are parts of storage keys and travel to other servers (device lists).
    device_id: { type: 'string', minLength: 1, maxLength: 255, pattern: '^[^\\u0000]*$' },
    initial_device_display_name: { type: 'string', maxLength: 1000 },
  },
} as const;

export function registerLoginRoutes(app: FastifyInstance, deps: LoginDeps): void {
  /** GET /_matrix/client/v3/login */
  app.get('/_matrix/client/v3/login', async () => ({ flows: [{ type: 'm.login.password' }] }));

  /** POST /_matrix/client/v3/login */
  app.post<{ Body: LoginBody }>('/_matrix/client/v3/login', { schema: { body: loginBodySchema } }, async (req) => {
    const body = req.body;
    if (body.type !== 'm.login.password') throw new MatrixError(400, ErrCode.UNKNOWN, `Unknown login type ${body.type}`);
    let user: string | undefined;
    if (body.identifier !== undefined) {
      if (body.identifier.type !== 'm.id.user') {
        throw new MatrixError(400, ErrCode.UNKNOWN, `Unsupported identifier type ${body.identifier.type}`);
      }
      user = body.identifier.user;
    } else {
      user = body.user;
    }
    if (user === undefined) throw new MatrixError(400, ErrCode.MISSING_PARAM, 'Missing identifier.user');
    if (body.password === undefined) throw new MatrixError(400, ErrCode.MISSING_PARAM, 'Missing password');
    // Limited by the account named, whether or not it exists (a limit only known accounts hit would tell which exist).
    const account = deps.accounts.resolveLoginUser(user) ?? user.toLowerCase();
    deps.limits?.beforeLogin(req.ip, account);
    let session;
    try {
      session = await deps.accounts.loginWithPassword(user, body.password, {
        ...(body.device_id !== undefined ? { deviceId: body.device_id } : {}),
        ...(body.initial_device_display_name !== undefined ? { displayName: body.initial_device_display_name } : {}),
      });
    } catch (err) {
      if (err instanceof MatrixError && err.errcode === ErrCode.FORBIDDEN) deps.limits?.loginFailed(account);
      throw err;
    }
    return {
      user_id: session.userId,
      access_token: session.accessToken,
      device_id: session.deviceId,
      // Deprecated, still read by older clients.
      home_server: deps.accounts.serverName,
      well_known: clientWellKnown(deps.publicBaseUrl),
    };
  });
}
