/**
 * Room aliases and the public room directory (client-server-api "Room aliases", "Listing rooms"):
 * GET/PUT/DELETE /directory/room/{roomAlias}, GET /rooms/{roomId}/aliases,
 * GET/PUT /directory/list/room/{roomId}, GET/POST /publicRooms.
 */
import type { FastifyInstance } from 'fastify';
import { isValidRoomAlias, serverNameOf } from '../../../core/identifiers.js';
import { ErrCode, MatrixError, forbidden, notFound } from '../../../core/errors.js';
import { getUserPowerLevel } from '../../../state/power-levels.js';
import type { RoomApiDeps } from './deps.js';
import { listPublicRooms } from '../../../rooms/public-rooms.js';
import { dropFromCanonicalAlias } from '../../../rooms/canonical-alias.js';
import { intQuery, requireObjectBody, requireString } from './params.js';

export function registerDirectoryRoutes(app: FastifyInstance, deps: RoomApiDeps): void {
  const rooms = deps.directory;

  const checkAlias = (alias: string) => {
    if (!isValidRoomAlias(alias)) throw new MatrixError(400, ErrCode.INVALID_PARAM, 'Invalid room alias');
  };

  /** GET /_matrix/client/v3/directory/room/{roomAlias} */
  app.get<{ Params: { alias: string } }>('/_matrix/client/v3/directory/room/:alias', async (req) => {
    checkAlias(req.params.alias);
    const target = await rooms.aliasTarget(req.params.alias);
    if (!target) throw notFound(`Room alias ${req.params.alias} not found`);
    return { room_id: target.roomId, servers: [deps.serverName] };
  });

  /** PUT /_matrix/client/v3/directory/room/{roomAlias} */
  app.put<{ Params: { alias: string } }>('/_matrix/client/v3/directory/room/:alias', async (req) => {
    const user = await deps.requireUser(req);
    const alias = req.params.alias;
    checkAlias(alias);
    if (serverNameOf(alias) !== deps.serverName) throw new MatrixError(400, ErrCode.INVALID_PARAM, 'Alias must be on this server');
    const roomId = requireString(requireObjectBody(req.body), 'room_id');
    deps.engine.requireRoom(roomId);
    if (!(await deps.engine.isJoined(user.userId, roomId))) throw forbidden('You are not in this room');
    if (await rooms.aliasTarget(alias)) throw new MatrixError(409, ErrCode.UNKNOWN, 'Room alias already exists');
    await rooms.setAlias(alias, roomId, user.userId);
    return {};
  });

  /** DELETE /_matrix/client/v3/directory/room/{roomAlias}: the alias' creator or a room moderator; the room's canonical alias event forgets it. */
  app.delete<{ Params: { alias: string } }>('/_matrix/client/v3/directory/room/:alias', async (req) => {
    const user = await deps.requireUser(req);
    checkAlias(req.params.alias);
    const target = await rooms.aliasTarget(req.params.alias);
    if (!target) throw notFound('Room alias not found');
    if (target.creator !== user.userId) {
      const room = deps.engine.requireRoom(target.roomId);
      const state = await deps.engine.currentState(target.roomId);
      if (getUserPowerLevel(user.userId, state, deps.engine.rulesOf(room)) < 50) throw forbidden('You may not delete this alias');
    }
    await rooms.deleteAlias(req.params.alias);
    await dropFromCanonicalAlias(deps.engine, target.roomId, req.params.alias, user.userId);
    return {};
  });

  /** GET /_matrix/client/v3/rooms/{roomId}/aliases */
  app.get<{ Params: { roomId: string } }>('/_matrix/client/v3/rooms/:roomId/aliases', async (req) => {
    const user = await deps.requireUser(req);
    await deps.timeline.readableUpTo(user.userId, req.params.roomId);
    return { aliases: await rooms.aliasesOf(req.params.roomId) };
  });

  /** GET /_matrix/client/v3/directory/list/room/{roomId} */
  app.get<{ Params: { roomId: string } }>('/_matrix/client/v3/directory/list/room/:roomId', async (req) => {
    deps.engine.requireRoom(req.params.roomId);
    return { visibility: await rooms.visibility(req.params.roomId) };
  });

  /** PUT /_matrix/client/v3/directory/list/room/{roomId}: moderators only. */
  app.put<{ Params: { roomId: string } }>('/_matrix/client/v3/directory/list/room/:roomId', async (req) => {
    const user = await deps.requireUser(req);
    const room = deps.engine.requireRoom(req.params.roomId);
    const visibility = requireString(requireObjectBody(req.body), 'visibility');
    if (visibility !== 'public' && visibility !== 'private') throw new MatrixError(400, ErrCode.INVALID_PARAM, 'visibility must be public or private');
    const state = await deps.engine.currentState(room.roomId);
    if (getUserPowerLevel(user.userId, state, deps.engine.rulesOf(room)) < 50) throw forbidden('You may not publish this room');
    await rooms.setVisibility(room.roomId, visibility);
    return {};
  });

  const listPublic = (limit: number, since: string | undefined, term: string | undefined) =>
    listPublicRooms(deps.engine, rooms, { limit, ...(since ? { since } : {}), ...(term ? { term } : {}) });

  /** GET /_matrix/client/v3/publicRooms */
  app.get<{ Querystring: { limit?: string; since?: string } }>('/_matrix/client/v3/publicRooms', async (req) => {
    return listPublic(intQuery(req.query.limit, 'limit', 100, 500) || 100, req.query.since, undefined);
  });

  /** POST /_matrix/client/v3/publicRooms (with a search filter) */
  app.post('/_matrix/client/v3/publicRooms', async (req) => {
    await deps.requireUser(req);
    const body = req.body === undefined ? {} : requireObjectBody(req.body);
    const limit = typeof body.limit === 'number' && body.limit > 0 ? Math.min(body.limit, 500) : 100;
    const since = typeof body.since === 'string' ? body.since : undefined;
    const filter = body.filter as { generic_search_term?: unknown } | undefined;
    const term = typeof filter?.generic_search_term === 'string' ? filter.generic_search_term : undefined;
    return listPublic(limit, since, term);
  });
}
