/** Deriving the ids a PDU does not carry, to make the in-memory {@link RoomEvent}. */
import { computeEventId, computeRoomIdFromCreateEvent } from './hashes.js';
import type { RoomVersionRules } from './room-versions.js';
import type { Pdu, RoomEvent } from './types.js';

/**
 * Wrap a PDU with its event id (computed unless the caller has it, e.g. from `finalizePdu`; in
 * room versions 1 and 2 the one the PDU carries) and room id. A room version 12 create event has no `room_id`: its room id is derived from
 * its event id (rooms/v12 auth rule 1.2). Throws if any other event lacks `room_id`.
 */
export function toRoomEvent(pdu: Pdu, rules: RoomVersionRules, eventId = computeEventId(pdu, rules)): RoomEvent {
  let roomId = pdu.room_id;
  if (roomId === undefined) {
    if (!rules.roomIdIsCreateEventHash || pdu.type !== 'm.room.create') {
      throw new RangeError(`event ${eventId} has no room_id`);
    }
    roomId = computeRoomIdFromCreateEvent(eventId);
  }
  return { event_id: eventId, room_id: roomId, pdu };
}
