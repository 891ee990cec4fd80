/**
 * Account registration (client-server-api "Account registration"), gated by the registration mode
 * of the configuration: `closed` refuses, `open` asks for `m.login.dummy`, `token` for
 * `m.login.registration_token` ("Token-authenticated registration").
 */
import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { AccountService } from '../../accounts/accounts.js';
import type { UiaFlow, UserInteractiveAuth } from '../../accounts/uia.js';
import type { RegistrationMode } from '../../config/config.js';
import { ErrCode, MatrixError, forbidden } from '../../core/errors.js';
import type { ClientRateLimits } from '../../limits/client-limits.js';

export interface RegisterDeps {
  accounts: Pick<AccountService, 'createUser' | 'createDeviceAndToken' | 'isLocalpartAvailable'>;
  uia: UserInteractiveAuth;
  registration: { mode: RegistrationMode; tokens: readonly string[] };
  /** rc_registration (limits/client-limits.ts); none: unlimited. */
  limits?: ClientRateLimits;
}

interface RegisterBody {
  auth?: unknown;
  username?: string;
  password?: string;
  device_id?: string;
  initial_device_display_name?: string;
  inhibit_login?: boolean;
}

const registerBodySchema = {
  type: 'object',
  properties: {
    auth: { type: 'object' },
    username: { type: 'string' },
    password: { type: 'string', maxLength: 512 },
    // No NUL: device ids are parts of storage keys and travel to other servers (device lists).
    device_id: { type: 'string', minLength: 1, maxLength: 255, pattern: '^[^\\u0000]*$' },
    initial_device_display_name: { type: 'string', maxLength: 1000 },
    inhibit_login: { type: 'boolean' },
  },
} as const;

function registrationFlows(mode: RegistrationMode): UiaFlow[] {
  return mode === 'token' ? [{ stages: ['m.login.registration_token'] }] : [{ stages: ['m.login.dummy'] }];
}

/** A localpart for registrations that do not choose one: 12 lowercase hex digits. */
function generateLocalpart(): string {
  return randomBytes(6).toString('hex');
}

export function registerRegisterRoutes(app: FastifyInstance, deps: RegisterDeps): void {
  /**
   * POST /_matrix/client/v3/register
   * 1. Guests are not supported; registration must be open or token-gated.
   * 2. A requested username must be valid and free (checked before UIA so clients learn early).
   * 3. User-interactive auth with the mode's flow.
   * 4. Create the account, then (unless `inhibit_login`) a device and access token.
   */
  app.post<{ Body: RegisterBody; Querystring: { kind?: string } }>(
    '/_matrix/client/v3/register',
    { schema: { body: registerBodySchema } },
    async (req) => {
      const body = req.body;
      // 1.
      if ((req.query.kind ?? 'user') === 'guest') {
        throw new MatrixError(403, ErrCode.GUEST_ACCESS_FORBIDDEN, 'Guest access is not enabled');
      }
      if (req.query.kind !== undefined && req.query.kind !== 'user') {
        throw new MatrixError(400, ErrCode.INVALID_PARAM, 'kind must be user or guest');
      }
      if (deps.registration.mode === 'closed') throw forbidden('Registration is disabled');
      deps.limits?.checkRegistration(req.ip);
      // 2.
      if (body.username !== undefined && !(await deps.accounts.isLocalpartAvailable(body.username))) {
        throw new MatrixError(400, ErrCode.USER_IN_USE, 'User ID already taken.');
      }
      // 3.
      await deps.uia.authenticate(body.auth, { purpose: 'register', flows: registrationFlows(deps.registration.mode) });
      // 4.
      if (body.password === undefined) throw new MatrixError(400, ErrCode.MISSING_PARAM, 'Missing password');
      deps.limits?.takeRegistration(req.ip);
      const user = await deps.accounts.createUser(body.username ?? generateLocalpart(), { password: body.password });
      if (body.inhibit_login) return { user_id: user.userId };
      const session = await deps.accounts.createDeviceAndToken(user.userId, body.device_id, body.initial_device_display_name);
      return { user_id: user.userId, access_token: session.accessToken, device_id: session.deviceId };
    },
  );

  /** GET /_matrix/client/v3/register/available */
  app.get<{ Querystring: { username?: string } }>('/_matrix/client/v3/register/available', async (req) => {
    const username = req.query.username;
    if (username === undefined || username === '') throw new MatrixError(400, ErrCode.MISSING_PARAM, 'Missing username');
    if (!(await deps.accounts.isLocalpartAvailable(username))) {
      throw new MatrixError(400, ErrCode.USER_IN_USE, 'User ID already taken.');
    }
    return { available: true };
  });

  /** GET /_matrix/client/v1/register/m.login.registration_token/validity */
  app.get<{ Querystring: { token?: string } }>('/_matrix/client/v1/register/m.login.registration_token/validity', async (req) => {
    if (deps.registration.mode !== 'token') throw forbidden('Registration tokens are not in use');
    const token = req.query.token;
    if (token === undefined) throw new MatrixError(400, ErrCode.MISSING_PARAM, 'Missing token');
    return { valid: deps.registration.tokens.includes(token) };
  });
}
