/**
 * `prev_events` and `auth_events` in every event format. Room versions 1 and 2 (rooms/v1 "Event
 * format", pdu_v1) list `[event_id, {sha256: reference hash}]` pairs; from v3 (pdu_v3, pdu_v4) the
 * lists hold bare event ids. Everything that follows these links reads them through
 * {@link referencedEventIds}; authoring writes them through {@link toEventReferences}.
 */
import type { EventIdFormat, RoomVersionRules } from './room-versions.js';
import type { EventReference, EventReferencePair } from './types.js';

/**
 * The event ids a `prev_events`/`auth_events` list names, in order, whatever the format. Entries
 * that are neither an id nor a pair whose first element is an id are skipped: a received PDU's
 * shape is checked at the edge, and what reached the core never makes a lookup crash.
 */
export function referencedEventIds(references: readonly EventReference[] | undefined): readonly string[] {
  if (!Array.isArray(references)) return [];
  // v3+ lists are ids already: hand the list itself back (auth chain walks call this per event).
  if (references.every((reference) => typeof reference === 'string')) return references as readonly string[];
  const ids: string[] = [];
  for (const reference of references as readonly unknown[]) {
    if (typeof reference === 'string') ids.push(reference);
    else if (Array.isArray(reference) && typeof reference[0] === 'string') ids.push(reference[0]);
  }
  return ids;
}

/** The ids of an event's `prev_events`. */
export function prevEventIds(pdu: { prev_events: readonly EventReference[] }): readonly string[] {
  return referencedEventIds(pdu.prev_events);
}

/** The ids of an event's `auth_events`. */
export function authEventIds(pdu: { auth_events: readonly EventReference[] }): readonly string[] {
  return referencedEventIds(pdu.auth_events);
}

/** Whether events of this room version write `[event_id, {sha256}]` pairs (v1, v2). */
export function referencesCarryHashes(format: EventIdFormat): boolean {
  return format === 'server-generated';
}

/**
 * The `prev_events`/`auth_events` list an event of this room version carries for `eventIds`. For
 * v1/v2, `referenceHashOf` gives each referenced event's reference hash (unpadded base64, server-server
 * "Calculating the reference hash for an event"); it throws when an event is unknown, since a pair
 * without its hash would be a malformed event.
 */
export function toEventReferences(
  eventIds: readonly string[],
  rules: RoomVersionRules,
  referenceHashOf: (eventId: string) => string | undefined,
): EventReference[] {
  if (!referencesCarryHashes(rules.eventIdFormat)) return [...eventIds];
  return eventIds.map((eventId): EventReferencePair => {
    const sha256 = referenceHashOf(eventId);
    if (sha256 === undefined) throw new RangeError(`no reference hash known for ${eventId}`);
    return [eventId, { sha256 }];
  });
}
