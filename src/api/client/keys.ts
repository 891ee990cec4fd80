/**
 * The key management and cross-signing routes of the Client-Server API (client-server-api
 * "End-to-End Encryption", keys.yaml and cross_signing.yaml). Handlers validate the request shape
 * and hand over to the E2EE service.
 */
import { randomBytes } from 'node:crypto';
import { isJsonObject } from '../../core/json-object.js';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { JsonObject } from '../../core/types.js';
import { ErrCode, MatrixError, missingParam, type ErrCodeValue } from '../../core/errors.js';
import { parseSyncToken } from '../../rooms/tokens.js';
import type { E2eeService, Requester } from '../../e2ee/service.js';
import { requireObjectBody } from './rooms/params.js';

export interface KeysRouteDeps {
  serverName: string;
  e2ee: E2eeService;
  requireUser(req: FastifyRequest): Promise<Requester>;
  /** Whether `password` is the account password of `userId` (User-Interactive Authentication). */
  checkPassword(userId: string, password: string): Promise<boolean>;
}

export function registerKeysRoutes(app: FastifyInstance, deps: KeysRouteDeps): void {
  /** POST /_matrix/client/v3/keys/upload */
  app.post('/_matrix/client/v3/keys/upload', async (req) => {
    const requester = await deps.requireUser(req);
    return deps.e2ee.uploadKeys(requester, requireObjectBody(req.body));
  });

  /** POST /_matrix/client/v3/keys/query */
  app.post('/_matrix/client/v3/keys/query', async (req) => {
    const requester = await deps.requireUser(req);
    return deps.e2ee.queryKeys(requester, requireObjectBody(req.body));
  });

  /** POST /_matrix/client/v3/keys/claim */
  app.post('/_matrix/client/v3/keys/claim', async (req) => {
    await deps.requireUser(req);
    return deps.e2ee.claimKeys(requireObjectBody(req.body));
  });

  /** GET /_matrix/client/v3/keys/changes */
  app.get<{ Querystring: Record<string, string | undefined> }>('/_matrix/client/v3/keys/changes', async (req) => {
    const { userId } = await deps.requireUser(req);
    const { from, to } = req.query;
    if (from === undefined) throw missingParam('Missing from');
    if (to === undefined) throw missingParam('Missing to');
    return deps.e2ee.deviceListsSince(userId, parseSyncToken(from).position, parseSyncToken(to).position);
  });

  /** POST /_matrix/client/v3/keys/device_signing/upload */
  app.post('/_matrix/client/v3/keys/device_signing/upload', async (req) => {
    const { userId } = await deps.requireUser(req);
    const body = requireObjectBody(req.body);
    await deps.e2ee.uploadCrossSigningKeys(userId, body, () => confirmPassword(body.auth, userId, deps));
    return {};
  });

  /** POST /_matrix/client/v3/keys/signatures/upload */
  app.post('/_matrix/client/v3/keys/signatures/upload', async (req) => {
    const { userId } = await deps.requireUser(req);
    return { failures: await deps.e2ee.uploadSignatures(userId, requireObjectBody(req.body)) };
  });
}

const PASSWORD_FLOWS = [{ stages: ['m.login.password'] }];

/**
 * User-Interactive Authentication with the one stage `m.login.password` (client-server-api
 * "User-Interactive Authentication API", "Password-based"), for replacing cross-signing keys:
 *  1. without `auth`: 401 with the flows and a session id;
 *  2. a password stage must name the requester (`identifier.user`, or the legacy `user`, as a user
 *     id or localpart) and carry their password; otherwise 401 M_FORBIDDEN with the flows again.
 * A single-stage flow completes within one request, so the session id needs no server-side state.
 */
async function confirmPassword(auth: unknown, userId: string, deps: KeysRouteDeps): Promise<void> {
  const challenge = (failure?: { errcode: ErrCodeValue; error: string }) =>
    new MatrixError(401, failure?.errcode ?? ErrCode.UNAUTHORIZED, failure?.error ?? 'Password confirmation required', {
      flows: PASSWORD_FLOWS,
      params: {},
      session: sessionOf(auth) ?? randomBytes(12).toString('base64url'),
    });
  // 1.
  if (auth === undefined || auth === null) throw challenge();
  if (!isJsonObject(auth)) throw new MatrixError(400, ErrCode.BAD_JSON, 'auth must be an object');
  // 2.
  const a = auth as JsonObject;
  if (a.type !== 'm.login.password') throw challenge({ errcode: ErrCode.UNRECOGNIZED, error: 'Only m.login.password is offered' });
  const identifier = a.identifier as JsonObject | undefined;
  const user = identifier?.type === 'm.id.user' ? identifier.user : a.user;
  const password = a.password;
  const named = typeof user === 'string' && (user.startsWith('@') ? user : `@${user}:${deps.serverName}`);
  const ok = named === userId && typeof password === 'string' && (await deps.checkPassword(userId, password));
  if (!ok) throw challenge({ errcode: ErrCode.FORBIDDEN, error: 'Invalid password' });
}

function sessionOf(auth: unknown): string | undefined {
  const session = (auth as { session?: unknown } | undefined)?.session;
  return typeof session === 'string' ? session : undefined;
}
