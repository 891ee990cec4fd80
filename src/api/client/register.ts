/**
 * Account registration (client-server-api "Account registration"), gated by the registration mode
 * of the configuration: `closed` refuses, `open` asks for `m.login.dummy`, `token` for
 * `m.login.registration_token` ("Token-authenticated registration").
 */
import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { AccountService } from '../../accounts/accounts.js';
import { hashPassword } from '../../accounts/password.js';
import {
  REGISTERED_USER_ID,
  REGISTRATION_PARAMS,
  REGISTRATION_PASSWORD_HASH,
  registrationParamsOf,
  type RegistrationParams,
} from '../../accounts/registration-memory.js';
import { UiaChallenge, type UiaFlow, type UserInteractiveAuth } from '../../accounts/uia.js';
import type { RegistrationMode } from '../../config/config.js';
import { ErrCode, MatrixError, forbidden } from '../../core/errors.js';
import type { ClientRateLimits } from '../../limits/client-limits.js';
import { uiaOperation } from './uia-operation.js';

export interface RegisterDeps {
  accounts: Pick<AccountService, 'createUser' | 'createDeviceAndToken' | 'isLocalpartAvailable' | 'userIdFor'>;
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

/** Keeps what a registration challenge's session must remember for the next request. */
async function remember(uia: UserInteractiveAuth, sessionId: string, params: RegistrationParams, password: string | undefined): Promise<void> {
  uia.setData(sessionId, REGISTRATION_PARAMS, params);
  // Hashed once per session, as Synapse does; a password sent again later is used as sent.
  if (password !== undefined && uia.getData(sessionId, REGISTRATION_PASSWORD_HASH) === undefined) {
    uia.setData(sessionId, REGISTRATION_PASSWORD_HASH, await hashPassword(password));
  }
}

/** The user id a session registered, or undefined (none yet, or its creation failed). */
async function settledUserId(registered: Promise<string> | undefined): Promise<string | undefined> {
  return registered?.catch(() => undefined);
}

/** A localpart for registrations that do not choose one: 12 lowercase hex digits. */
function generateLocalpart(): string {
  return randomBytes(6).toString('hex');
}

export function registerRegisterRoutes(app: FastifyInstance, deps: RegisterDeps): void {
  /**
   * POST /_matrix/client/v3/register
   * 1. Guests are not supported; registration must be open or token-gated.
   * 2. The parameters are this request's, or when it carries none (only `auth`), those its session
   *    remembers (registration-memory.ts); a session that already registered its user is a retry.
   * 3. A requested username must be valid and free (checked before UIA so clients learn early),
   *    unless it is the one this session registered.
   * 4. User-interactive auth with the mode's flow; a challenge remembers the parameters and the
   *    password (hashed) in the session.
   * 5. Create the account once per session, then (unless `inhibit_login`) a device and access token.
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
      const namedSession = deps.uia.sessionIdOf(body.auth);
      const params = registrationParamsOf(body) ?? (namedSession !== undefined ? deps.uia.getData(namedSession, REGISTRATION_PARAMS) : undefined) ?? {};
      const alreadyRegistered = namedSession === undefined ? undefined : await settledUserId(deps.uia.getData(namedSession, REGISTERED_USER_ID));
      // 3.
      if (
        params.username !== undefined &&
        alreadyRegistered !== deps.accounts.userIdFor(params.username) &&
        !(await deps.accounts.isLocalpartAvailable(params.username))
      ) {
        throw new MatrixError(400, ErrCode.USER_IN_USE, 'User ID already taken.');
      }
      // 4.
      let sessionId: string;
      try {
        sessionId = await deps.uia.authenticate(body.auth, {
          operation: uiaOperation(req),
          flows: registrationFlows(deps.registration.mode),
          retryable: true,
        });
      } catch (err) {
        if (err instanceof UiaChallenge) await remember(deps.uia, err.body.session, params, body.password);
        throw err;
      }
      deps.uia.setData(sessionId, REGISTRATION_PARAMS, params);
      // 5.
      let registered = deps.uia.getData(sessionId, REGISTERED_USER_ID);
      if (registered === undefined) {
        const passwordHash = body.password !== undefined ? await hashPassword(body.password) : deps.uia.getData(sessionId, REGISTRATION_PASSWORD_HASH);
        if (passwordHash === undefined) throw new MatrixError(400, ErrCode.MISSING_PARAM, 'Missing password');
        deps.limits?.takeRegistration(req.ip);
        registered = deps.accounts.createUser(params.username ?? generateLocalpart(), { passwordHash }).then((user) => user.userId);
        deps.uia.setData(sessionId, REGISTERED_USER_ID, registered);
        // A failed creation is no registration: the session may try again.
        registered.catch(() => deps.uia.setData(sessionId, REGISTERED_USER_ID, undefined));
      }
      const userId = await registered;
      if (params.inhibit_login) return { user_id: userId };
      const session = await deps.accounts.createDeviceAndToken(userId, params.device_id, params.initial_device_display_name);
      return { user_id: userId, access_token: session.accessToken, device_id: session.deviceId };
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
