/**
 * POST /_matrix/client/v3/createRoom (client-server-api "Creation") and
 * POST /_matrix/client/v3/rooms/{roomId}/upgrade (client-server-api "Room Upgrades").
 */
import type { FastifyInstance } from 'fastify';
import { ErrCode, MatrixError } from '../../../core/errors.js';
import { createRoom, parseCreateRoomBody } from '../../../rooms/create-room.js';
import { upgradeRoom } from '../../../rooms/upgrade-room.js';
import type { RoomApiDeps } from './deps.js';
import { requireEventContentBody } from './params.js';

export function registerCreateRoomRoutes(app: FastifyInstance, deps: RoomApiDeps): void {
  app.post('/_matrix/client/v3/createRoom', async (req) => {
    const user = await deps.requireUser(req);
    const request = parseCreateRoomBody(user.userId, req.body);
    const { roomId, alias } = await createRoom(deps.createRoomDeps, request);
    return alias ? { room_id: roomId, room_alias: alias } : { room_id: roomId };
  });

  app.post<{ Params: { roomId: string } }>('/_matrix/client/v3/rooms/:roomId/upgrade', async (req) => {
    const user = await deps.requireUser(req);
    const body = requireEventContentBody(req.body);
    if (typeof body.new_version !== 'string') throw new MatrixError(400, ErrCode.BAD_JSON, 'new_version must be a string');
    const creators = body.additional_creators;
    if (creators !== undefined && (!Array.isArray(creators) || !creators.every((c) => typeof c === 'string' && /^@[^:]+:.+$/.test(c)))) {
      throw new MatrixError(400, ErrCode.BAD_JSON, 'additional_creators must be a list of user ids');
    }
    const replacement = await upgradeRoom(deps.createRoomDeps, {
      roomId: req.params.roomId,
      userId: user.userId,
      newVersion: body.new_version,
      ...(creators ? { additionalCreators: creators as string[] } : {}),
    });
    return { replacement_room: replacement };
  });
}
