/**
 * Event hashes and the ids derived from them (server-server "Calculating the content hash for an
 * event", "Calculating the reference hash for an event"; rooms/v1, v3 and v4 "Event IDs";
 * rooms/v12 and appendices "Room IDs").
 */
import { hash } from 'node:crypto';
import { decodeBase64, encodeUnpaddedBase64, encodeUrlSafeBase64 } from './base64.js';
import { canonicalJson } from './canonical-json.js';
import { redactPdu } from './redaction.js';
import type { RoomVersionRules } from './room-versions.js';
import type { JsonObject, Pdu } from './types.js';

/** sha256, one-shot: `crypto.hash` builds no Hash object (two per event sent: content and reference hash). */
export function sha256(data: string | Uint8Array): Buffer {
  return hash('sha256', data, 'buffer');
}

/**
 * Canonical JSON as the room version encodes its events: strict from v6 (rooms/v6 "Canonical
 * JSON"), lax numbers in v1-v5. What a received PDU of a v1-v5 room must be measured and hashed
 * with, since the spec forbids refusing its floats there.
 */
export function eventCanonicalJson(value: unknown, rules: RoomVersionRules | undefined): string {
  return rules === undefined || rules.strictCanonicalJson ? canonicalJson(value) : canonicalJson(value, { strict: false });
}

/**
 * The content hash, unpadded base64: sha256 of the canonical JSON of the whole event without
 * `unsigned`, `signatures` and `hashes`. It covers the unredacted content (and, in room versions
 * 1 and 2, the `event_id`). `rules` only matters for events of v1-v5 that hold floats.
 */
export function computeContentHash(pdu: object, rules?: RoomVersionRules): string {
  return encodeUnpaddedBase64(contentHashBytes(pdu, rules));
}

function contentHashBytes(pdu: object, rules: RoomVersionRules | undefined): Buffer {
  const { unsigned: _unsigned, signatures: _signatures, hashes: _hashes, ...hashed } = pdu as Record<string, unknown>;
  return sha256(eventCanonicalJson(hashed, rules));
}

/** A copy of the event with `hashes.sha256` set to its content hash. */
export function addContentHash<T extends object>(pdu: T, rules?: RoomVersionRules): T & { hashes: { sha256: string } } {
  return { ...pdu, hashes: { sha256: computeContentHash(pdu, rules) } };
}

/** Whether `hashes.sha256` matches the event. False means we hold a redacted copy (or a forgery). */
export function hasValidContentHash(pdu: object, rules?: RoomVersionRules): boolean {
  const hashes = (pdu as { hashes?: { sha256?: unknown } }).hashes;
  if (typeof hashes?.sha256 !== 'string') return false;
  try {
    // Compare bytes, not text: senders may pad their base64 (appendices "Unpadded Base64").
    return contentHashBytes(pdu, rules).equals(decodeBase64(hashes.sha256));
  } catch {
    return false;
  }
}

/**
 * The canonical JSON the reference hash is taken over; it is also exactly what the event's
 * signatures cover (server-server "Adding hashes and signatures to outgoing events"):
 *   1. redact the event by the room version's algorithm;
 *   2. remove `signatures` and `unsigned`;
 *   3. encode as canonical JSON.
 */
export function referenceJson(pdu: Pdu | JsonObject, rules: RoomVersionRules): string {
  const { signatures: _signatures, unsigned: _unsigned, ...essential } = redactPdu(pdu as JsonObject, rules);
  return eventCanonicalJson(essential, rules);
}

/** The reference hash (step 4: sha256 of {@link referenceJson}), raw bytes. */
export function computeReferenceHash(pdu: Pdu | JsonObject, rules: RoomVersionRules): Uint8Array {
  return sha256(referenceJson(pdu, rules));
}

/**
 * The event's id. Room versions 1 and 2 (rooms/v1 "Event IDs"): the `event_id` the event carries,
 * which its server chose; throws when it has none. From v3 (rooms/v3, v4 "Event IDs"): `$` and the
 * reference hash in unpadded base64 (v3) or URL-safe unpadded base64 (v4+).
 */
export function computeEventId(pdu: Pdu | JsonObject, rules: RoomVersionRules): string {
  if (rules.eventIdFormat === 'server-generated') {
    const carried = (pdu as { event_id?: unknown }).event_id;
    if (typeof carried !== 'string') throw new RangeError(`a room version ${rules.id} event must carry its event_id`);
    return carried;
  }
  return eventIdFromReferenceHash(computeReferenceHash(pdu, rules), rules);
}

/** The event id of a reference hash: v3 standard base64, v4+ URL-safe (never called for v1/v2). */
export function eventIdFromReferenceHash(referenceHash: Uint8Array, rules?: RoomVersionRules): string {
  if (rules?.eventIdFormat === 'reference-hash') return '$' + encodeUnpaddedBase64(referenceHash);
  return '$' + encodeUrlSafeBase64(referenceHash);
}

/** The reference hash as `prev_events`/`auth_events` pairs of room versions 1 and 2 carry it (unpadded base64). */
export function referenceHashBase64(pdu: Pdu | JsonObject, rules: RoomVersionRules): string {
  return encodeUnpaddedBase64(computeReferenceHash(pdu, rules));
}

/**
 * Room version 12: the room id is the create event's event id with sigil `!` instead of `$`
 * (rooms/v12 auth rule 1.2 note; appendices "Room IDs").
 */
export function computeRoomIdFromCreateEvent(createEventId: string): string {
  if (!createEventId.startsWith('$')) throw new RangeError(`not an event id: ${createEventId}`);
  return '!' + createEventId.slice(1);
}
