/**
 * Room membership endpoints (client-server-api "Room membership"):
 * POST /join/{roomIdOrAlias}, POST /knock/{roomIdOrAlias}, POST /rooms/{roomId}/join|leave|forget|invite|kick|ban|unban,
 * GET /joined_rooms.
 */
import type { FastifyInstance } from 'fastify';
import { ErrCode, forbidden } from '../../../core/errors.js';
import { isValidServerName } from '../../../core/identifiers.js';
import type { RoomApiDeps } from './deps.js';
import { optionalString, requireObjectBody, requireString } from './params.js';

type RoomParams = { Params: { roomId: string } };

export function registerMembershipRoutes(app: FastifyInstance, deps: RoomApiDeps): void {
  /** POST /_matrix/client/v3/join/{roomIdOrAlias} */
  app.post<{ Params: { roomIdOrAlias: string } }>('/_matrix/client/v3/join/:roomIdOrAlias', async (req) => {
    const user = await deps.requireUser(req);
    const body = req.body === undefined ? {} : requireObjectBody(req.body);
    const roomId = await deps.membership.join(req.params.roomIdOrAlias, user.userId, optionalString(body, 'reason'), viaServers(req.query));
    return { room_id: roomId };
  });

  /** POST /_matrix/client/v3/knock/{roomIdOrAlias} */
  app.post<{ Params: { roomIdOrAlias: string } }>('/_matrix/client/v3/knock/:roomIdOrAlias', async (req) => {
    const user = await deps.requireUser(req);
    const body = req.body === undefined ? {} : requireObjectBody(req.body);
    const roomId = await deps.membership.knock(req.params.roomIdOrAlias, user.userId, optionalString(body, 'reason'), viaServers(req.query));
    return { room_id: roomId };
  });

  /** POST /_matrix/client/v3/rooms/{roomId}/join */
  app.post<RoomParams>('/_matrix/client/v3/rooms/:roomId/join', async (req) => {
    const user = await deps.requireUser(req);
    const body = req.body === undefined ? {} : requireObjectBody(req.body);
    const roomId = await deps.membership.join(req.params.roomId, user.userId, optionalString(body, 'reason'));
    return { room_id: roomId };
  });

  /** POST /_matrix/client/v3/rooms/{roomId}/leave */
  app.post<RoomParams>('/_matrix/client/v3/rooms/:roomId/leave', async (req) => {
    const user = await deps.requireUser(req);
    const body = req.body === undefined ? {} : requireObjectBody(req.body);
    await deps.membership.leave(req.params.roomId, user.userId, optionalString(body, 'reason'));
    return {};
  });

  /** POST /_matrix/client/v3/rooms/{roomId}/forget: only after leaving (spec: M_UNKNOWN 400 otherwise; Synapse 400). */
  app.post<RoomParams>('/_matrix/client/v3/rooms/:roomId/forget', async (req, reply) => {
    const user = await deps.requireUser(req);
    const membership = await deps.engine.membershipOf(user.userId, req.params.roomId);
    if (membership === 'join' || membership === 'invite' || membership === 'knock') {
      reply.code(400);
      return { errcode: ErrCode.UNKNOWN, error: 'Leave the room before forgetting it' };
    }
    if (membership === undefined) throw forbidden('You were never in this room');
    await deps.engine.forget(user.userId, req.params.roomId);
    return {};
  });

  for (const action of ['invite', 'kick', 'ban', 'unban'] as const) {
    /** POST /_matrix/client/v3/rooms/{roomId}/invite|kick|ban|unban */
    app.post<RoomParams>(`/_matrix/client/v3/rooms/:roomId/${action}`, async (req) => {
      const user = await deps.requireUser(req);
      const body = requireObjectBody(req.body);
      const target = requireString(body, 'user_id');
      const reason = optionalString(body, 'reason');
      await deps.membership[action](req.params.roomId, user.userId, target, reason);
      return {};
    });
  }

  /** GET /_matrix/client/v3/joined_rooms */
  app.get('/_matrix/client/v3/joined_rooms', async (req) => {
    const user = await deps.requireUser(req);
    const rooms = await deps.engine.roomsOf(user.userId);
    return { joined_rooms: rooms.filter((r) => r.membership === 'join').map((r) => r.roomId) };
  });
}

/**
 * The servers a client names for joining or knocking through: `via` (client-server v1.12) and the
 * older `server_name`, each repeatable; at most 20, and only valid server names.
 */
function viaServers(query: unknown): string[] {
  const q = (query ?? {}) as Record<string, unknown>;
  const out: string[] = [];
  for (const name of ['via', 'server_name']) {
    const value = q[name];
    for (const v of Array.isArray(value) ? value : value === undefined ? [] : [value]) {
      if (typeof v === 'string' && isValidServerName(v)) out.push(v);
    }
  }
  return [...new Set(out)].slice(0, 20);
}
