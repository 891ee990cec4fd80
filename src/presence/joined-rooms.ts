/** The rooms a user is joined to, from the room engine's membership index (presence visibility). */
import type { RoomEngine } from '../rooms/engine.js';

export function joinedRoomsVia(engine: Pick<RoomEngine, 'roomsOf'>): (userId: string) => Promise<Set<string>> {
  return async (userId) => new Set((await engine.roomsOf(userId)).filter((m) => m.membership === 'join').map((m) => m.roomId));
}
