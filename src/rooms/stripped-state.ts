/**
 * Stripped state (client-server "Stripped state"): the few state events an invitee or knocker is
 * shown before joining, each as `{type, state_key, sender, content}`. One list for /sync, the
 * invites this server sends to other servers, and the knocks it answers.
 */
import { stateKey, type JsonObject, type RoomEvent } from '../core/types.js';

export const STRIPPED_STATE_TYPES: ReadonlySet<string> = new Set([
  'm.room.create',
  'm.room.join_rules',
  'm.room.name',
  'm.room.avatar',
  'm.room.canonical_alias',
  'm.room.encryption',
  'm.room.topic',
]);

/** The stripped form of an event. */
export function stripEvent(event: RoomEvent): JsonObject {
  return { type: event.pdu.type, state_key: event.pdu.state_key ?? '', sender: event.pdu.sender, content: event.pdu.content };
}

/** The stripped state of a room's current state, in the list's order. */
export function strippedStateOf(state: ReadonlyMap<string, RoomEvent>): JsonObject[] {
  const out: JsonObject[] = [];
  for (const type of STRIPPED_STATE_TYPES) {
    const event = state.get(stateKey(type, ''));
    if (event) out.push(stripEvent(event));
  }
  return out;
}
