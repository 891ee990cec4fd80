/**
 * Peeking (client-server "Room Previews"): GET /rooms/{roomId}/initialSync, the snapshot of a room's
 * state and latest messages that clients (Element among them) ask for before joining a
 * world-readable room. Members get the same snapshot of their own rooms (the endpoint's older use),
 * former members the room as it was when they left.
 */
import type { FastifyInstance } from 'fastify';
import { formatPaginationToken } from '../../../rooms/tokens.js';
import type { RoomApiDeps } from './deps.js';

/** Messages in the snapshot, as Synapse returns. */
const MESSAGES = 20;

export function registerInitialSyncRoutes(app: FastifyInstance, deps: RoomApiDeps): void {
  app.get<{ Params: { roomId: string } }>('/_matrix/client/v3/rooms/:roomId/initialSync', async (req) => {
    const user = await deps.requireUser(req);
    const { roomId } = req.params;
    // Never-members may read only world_readable rooms (403 otherwise); leavers up to their leave.
    const upTo = Math.min(await deps.timeline.readableUpTo(user.userId, roomId), deps.sync.currentPosition());
    const reader = await deps.timeline.readerFor(user.userId, roomId);
    const page = await deps.timeline.page(roomId, { from: upTo, dir: 'b', limit: MESSAGES, reader });
    const events = page.events.reverse();
    const membership = await deps.engine.membershipOf(user.userId, roomId);
    const state = membership === 'leave' || membership === 'ban' ? await deps.timeline.stateAtPosition(roomId, upTo) : await deps.engine.currentState(roomId);
    const viewer = { userId: user.userId, deviceId: user.deviceId };
    const body: Record<string, unknown> = {
      room_id: roomId,
      messages: {
        chunk: await deps.formatter.formatAll(events, viewer, { reader }),
        start: formatPaginationToken((events[0]?.meta.stream ?? upTo + 1) - 1),
        end: formatPaginationToken(upTo),
      },
      state: await deps.formatter.formatAll([...state.values()], viewer),
      visibility: await deps.directory.visibility(roomId),
      account_data: await deps.sync.roomAccountData(user.userId, roomId),
    };
    if (membership && membership !== 'knock') body.membership = membership;
    return body;
  });
}
