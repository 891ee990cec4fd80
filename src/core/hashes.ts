/**
 * Event hashes and the ids derived from them (server-server "Calculating the content hash for an
 * event", "Calculating the reference hash for an event"; rooms/v4 "Event IDs"; rooms/v12 and
 * appendices "Room IDs").
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
 * The content hash, unpadded base64: sha256 of the canonical JSON of the whole event without
 * `unsigned`, `signatures` and `hashes`. It covers the unredacted content.
 */
export function computeContentHash(pdu: object): string {
  return encodeUnpaddedBase64(contentHashBytes(pdu));
}

function contentHashBytes(pdu: object): Buffer {
  const { unsigned: _unsigned, signatures: _signatures, hashes: _hashes, ...hashed } = pdu as Record<string, unknown>;
  return sha256(canonicalJson(hashed));
}

/** A copy of the event with `hashes.sha256` set to its content hash. */
export function addContentHash<T extends object>(pdu: T): T & { hashes: { sha256: string } } {
  return { ...pdu, hashes: { sha256: computeContentHash(pdu) } };
}

/** Whether `hashes.sha256` matches the event. False means we hold a redacted copy (or a forgery). */
export function hasValidContentHash(pdu: object): boolean {
  const hashes = (pdu as { hashes?: { sha256?: unknown } }).hashes;
  if (typeof hashes?.sha256 !== 'string') return false;
  try {
    // Compare bytes, not text: senders may pad their base64 (appendices "Unpadded Base64").
    return contentHashBytes(pdu).equals(decodeBase64(hashes.sha256));
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
  return canonicalJson(essential);
}

/** The reference hash (step 4: sha256 of {@link referenceJson}), raw bytes. */
export function computeReferenceHash(pdu: Pdu | JsonObject, rules: RoomVersionRules): Uint8Array {
  return sha256(referenceJson(pdu, rules));
}

/** `$` + URL-safe unpadded base64 of the reference hash (rooms/v4 "Event IDs", all versions we support). */
export function computeEventId(pdu: Pdu | JsonObject, rules: RoomVersionRules): string {
  return eventIdFromReferenceHash(computeReferenceHash(pdu, rules));
}

export function eventIdFromReferenceHash(referenceHash: Uint8Array): string {
  return '$' + encodeUrlSafeBase64(referenceHash);
}

/**
 * Room version 12: the room id is the create event's event id with sigil `!` instead of `$`
 * (rooms/v12 auth rule 1.2 note; appendices "Room IDs").
 */
export function computeRoomIdFromCreateEvent(createEventId: string): string {
  if (!createEventId.startsWith('$')) throw new RangeError(`not an event id: ${createEventId}`);
  return '!' + createEventId.slice(1);
}
