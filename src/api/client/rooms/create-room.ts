/** POST /_matrix/client/v3/createRoom (client-server-api "Creation"). */
import type { FastifyInstance } from 'fastify';
import { createRoom, parseCreateRoomBody } from '../../../rooms/create-room.js';
import type { RoomApiDeps } from './deps.js';

export function registerCreateRoomRoutes(app: FastifyInstance, deps: RoomApiDeps): void {
  app.post('/_matrix/client/v3/createRoom', async (req) => {
    const user = await deps.requireUser(req);
    const request = parseCreateRoomBody(user.userId, req.body);
    const { roomId, alias } = await createRoom(deps.createRoomDeps, request);
    return alias ? { room_id: roomId, room_alias: alias } : { room_id: roomId };
  });
}
