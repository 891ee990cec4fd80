/**
 * Server-side key backup routes (client-server "Server-side key backups"; the rules are in
 * src/e2ee/key-backup.ts): /room_keys/version[/{version}] and /room_keys/keys[/{roomId}[/{sessionId}]].
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Requester } from '../../accounts/accounts.js';
import type { Json, JsonObject } from '../../core/types.js';
import { isJsonObject } from '../../core/json-object.js';
import { ErrCode, MatrixError, notFound } from '../../core/errors.js';
import { parseKeyBackupData, type KeyBackupService, type RoomKeys } from '../../e2ee/key-backup.js';

export interface KeyBackupRouteDeps {
  requireUser(req: FastifyRequest): Promise<Requester>;
  backups: KeyBackupService;
}

const V3 = '/_matrix/client/v3/room_keys';

type KeysRequest = FastifyRequest<{ Params: { roomId?: string; sessionId?: string }; Querystring: { version?: string } }>;

function objectBody(body: unknown): JsonObject {
  if (!isJsonObject(body as Json)) throw new MatrixError(400, ErrCode.BAD_JSON, 'Body must be a JSON object');
  return body as JsonObject;
}

function versionBody(body: unknown): { algorithm: string; authData: JsonObject; version?: unknown } {
  const b = objectBody(body);
  if (typeof b.algorithm !== 'string' || b.algorithm === '') throw new MatrixError(400, ErrCode.BAD_JSON, 'algorithm must be a string');
  if (!isJsonObject(b.auth_data as Json)) throw new MatrixError(400, ErrCode.BAD_JSON, 'auth_data must be an object');
  return { algorithm: b.algorithm, authData: b.auth_data as JsonObject, version: b.version };
}

function requireVersion(req: KeysRequest): string {
  const version = req.query.version;
  if (typeof version !== 'string' || version === '') throw new MatrixError(400, ErrCode.MISSING_PARAM, 'Missing version');
  return version;
}

/** The body of a keys upload at any of the three depths, as room -> session -> key. */
function uploadedKeys(req: KeysRequest): RoomKeys {
  const body = objectBody(req.body);
  const { roomId, sessionId } = req.params;
  if (roomId !== undefined && sessionId !== undefined) return { [roomId]: { [sessionId]: parseKeyBackupData(body, sessionId) } };
  const sessionsOf = (value: unknown, where: string): Record<string, ReturnType<typeof parseKeyBackupData>> => {
    if (!isJsonObject(value as Json)) throw new MatrixError(400, ErrCode.BAD_JSON, `${where}: sessions must be an object`);
    return Object.fromEntries(Object.entries(value as JsonObject).map(([session, data]) => [session, parseKeyBackupData(data, session)]));
  };
  if (roomId !== undefined) return { [roomId]: sessionsOf(body.sessions, roomId) };
  if (!isJsonObject(body.rooms as Json)) throw new MatrixError(400, ErrCode.BAD_JSON, 'rooms must be an object');
  return Object.fromEntries(
    Object.entries(body.rooms as JsonObject).map(([room, value]) => {
      if (!isJsonObject(value as Json)) throw new MatrixError(400, ErrCode.BAD_JSON, `${room} must be an object`);
      return [room, sessionsOf((value as JsonObject).sessions, room)];
    }),
  );
}

export function registerKeyBackupRoutes(app: FastifyInstance, deps: KeyBackupRouteDeps): void {
  const { backups } = deps;

  app.post(`${V3}/version`, async (req) => {
    const user = await deps.requireUser(req);
    const { algorithm, authData } = versionBody(req.body);
    return { version: await backups.createVersion(user.userId, algorithm, authData) };
  });
  const getVersion = async (req: FastifyRequest<{ Params: { version?: string } }>) => {
    const user = await deps.requireUser(req);
    const info = await backups.versionInfo(user.userId, req.params.version);
    if (!info) throw notFound(req.params.version === undefined ? 'No current backup version' : 'Unknown backup version');
    return info;
  };
  app.get(`${V3}/version`, getVersion);
  app.get(`${V3}/version/:version`, getVersion);
  app.put<{ Params: { version: string } }>(`${V3}/version/:version`, async (req) => {
    const user = await deps.requireUser(req);
    const { algorithm, authData, version } = versionBody(req.body);
    if (version !== undefined && version !== req.params.version) throw new MatrixError(400, ErrCode.INVALID_PARAM, 'version in the body does not match the path');
    await backups.updateVersion(user.userId, req.params.version, algorithm, authData);
    return {};
  });
  app.delete<{ Params: { version: string } }>(`${V3}/version/:version`, async (req) => {
    const user = await deps.requireUser(req);
    await backups.deleteVersion(user.userId, req.params.version);
    return {};
  });

  for (const path of [`${V3}/keys`, `${V3}/keys/:roomId`, `${V3}/keys/:roomId/:sessionId`]) {
    app.put(path, async (req: KeysRequest) => {
      const user = await deps.requireUser(req);
      return backups.putKeys(user.userId, requireVersion(req), uploadedKeys(req));
    });
    app.get(path, async (req: KeysRequest) => {
      const user = await deps.requireUser(req);
      const { roomId, sessionId } = req.params;
      const keys = await backups.getKeys(user.userId, requireVersion(req), roomId, sessionId);
      if (roomId !== undefined && sessionId !== undefined) {
        const key = keys[roomId]?.[sessionId];
        if (!key) throw notFound('No key for this session');
        return key;
      }
      if (roomId !== undefined) return { sessions: keys[roomId] ?? {} };
      return { rooms: Object.fromEntries(Object.entries(keys).map(([room, sessions]) => [room, { sessions }])) };
    });
    app.delete(path, async (req: KeysRequest) => {
      const user = await deps.requireUser(req);
      return backups.deleteKeys(user.userId, requireVersion(req), req.params.roomId, req.params.sessionId);
    });
  }
}
