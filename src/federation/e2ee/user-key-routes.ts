/**
 * The Server-Server API routes for local users' devices and keys (server-server "Device
 * Management", "End-to-End Encryption"), answered by the E2EE service:
 *  - `GET  /_matrix/federation/v1/user/devices/{userId}`: the user's devices, keys, public
 *    cross-signing keys and the `stream_id` their next `m.device_list_update` follows;
 *  - `POST /_matrix/federation/v1/user/keys/query`: device and cross-signing keys of local users;
 *  - `POST /_matrix/federation/v1/user/keys/claim`: one-time (or fallback) keys of local devices.
 * Every route first authenticates the requesting server (X-Matrix).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ErrCode, MatrixError } from '../../core/errors.js';
import { parseUserId } from '../../core/identifiers.js';
import { isJsonObject } from '../../core/json-object.js';
import type { JsonObject } from '../../core/types.js';
import type { E2eeService } from '../../e2ee/service.js';

export interface UserKeyRouteDeps {
  /** The authenticated origin of a request (throws 401 M_UNAUTHORIZED otherwise). */
  originOf: (request: FastifyRequest) => Promise<string>;
  e2ee: Pick<E2eeService, 'devicesForServer' | 'queryKeysForServer' | 'claimKeysForServer'>;
  serverName: string;
}

function objectBody(body: unknown): JsonObject {
  if (!isJsonObject(body)) throw new MatrixError(400, ErrCode.BAD_JSON, 'The body must be a JSON object');
  return body;
}

export function registerUserKeyRoutes(app: FastifyInstance, deps: UserKeyRouteDeps): void {
  const F1 = '/_matrix/federation/v1';

  app.get(`${F1}/user/devices/:userId`, async (req) => {
    await deps.originOf(req);
    const userId = (req.params as Record<string, string>).userId!;
    if (parseUserId(userId)?.serverName !== deps.serverName) {
      throw new MatrixError(400, ErrCode.INVALID_PARAM, `${userId} is not a user of this server`);
    }
    return deps.e2ee.devicesForServer(userId);
  });

  app.post(`${F1}/user/keys/query`, async (req) => {
    await deps.originOf(req);
    return deps.e2ee.queryKeysForServer(objectBody(req.body));
  });

  app.post(`${F1}/user/keys/claim`, async (req) => {
    await deps.originOf(req);
    return deps.e2ee.claimKeysForServer(objectBody(req.body));
  });
}
