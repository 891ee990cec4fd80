/** The {@link MembershipView} of the room engine: a user's rooms from the membership index, members from current state. */
import { splitStateKey } from '../core/types.js';
import type { RoomEngine } from '../rooms/engine.js';
import type { MembershipView } from './device-lists.js';

export function engineMembershipView(engine: Pick<RoomEngine, 'roomsOf' | 'currentState'>): MembershipView {
  return {
    async roomsOf(userId) {
      return (await engine.roomsOf(userId)).map((entry) => ({
        roomId: entry.roomId,
        membership: entry.membership,
        stream: entry.stream,
      }));
    },
    async membersOf(roomId) {
      const members: Array<{ userId: string; membership: string; stream: number }> = [];
      for (const [key, event] of await engine.currentState(roomId)) {
        const [type, userId] = splitStateKey(key);
        if (type !== 'm.room.member') continue;
        const membership = event.pdu.content.membership;
        if (typeof membership === 'string') members.push({ userId, membership, stream: event.meta.stream });
      }
      return members;
    },
  };
}
