/**
 * Shared protocol types. Pure data shapes, no behaviour.
 * Event format: rooms/v1.md (pdu_v1), rooms/v3.md (pdu_v3), rooms/v4 and v6 (pdu_v4, pdu_v6),
 * rooms/v11.md and rooms/v12.md "Event format" (the PDU as it travels between servers).
 */

export type Json = null | boolean | number | string | Json[] | JsonObject;
export interface JsonObject {
  [key: string]: Json;
}

/** Room versions this server creates and joins: every stable version (rooms/_index "Complete list"). */
export type RoomVersionId = '1' | '2' | '3' | '4' | '5' | '6' | '7' | '8' | '9' | '10' | '11' | '12';

/**
 * rooms/v1 "Event format" (pdu_v1): in room versions 1 and 2, `prev_events` and `auth_events`
 * name each event together with its reference hash, `[event_id, {sha256}]`.
 */
export type EventReferencePair = [eventId: string, hashes: { sha256: string }];
/**
 * One entry of `prev_events` / `auth_events`: a pair in v1/v2, a bare event id from v3. Read them
 * through `referencedEventIds` (core/event-references.ts), never by indexing.
 */
export type EventReference = string | EventReferencePair;

/**
 * A persistent data unit in the federation format of any room version. This is the exact object
 * that hashes and signatures cover. In room versions 1 and 2 it carries its `event_id`
 * (`$opaque:server`, chosen by the sending server); from v3 ids are derived from the reference
 * hash and the PDU never carries one. In room version 12 the create event has no `room_id`.
 */
export interface Pdu {
  auth_events: EventReference[];
  content: JsonObject;
  depth: number;
  /** Room versions 1 and 2 only. */
  event_id?: string;
  hashes: { sha256: string };
  origin_server_ts: number;
  prev_events: EventReference[];
  /** Top-level up to room version 10; from v11 it lives in `content.redacts`. */
  redacts?: string;
  room_id?: string;
  sender: string;
  signatures: Record<string, Record<string, string>>;
  state_key?: string;
  type: string;
  unsigned?: JsonObject;
}

/**
 * A PDU together with the ids the server derived for it. `room_id` is always filled in (for a v12
 * create event it is derived from the event id). This is the in-memory event the auth rules, state
 * resolution and the room engine work on.
 */
export interface RoomEvent {
  event_id: string;
  room_id: string;
  pdu: Pdu;
}

/**
 * `(type, state_key)` of a state event as one string that can key a Map: the type, escaped, then
 * NUL, then the state key. The escape (U+0001 -> U+0001 U+0002, NUL -> U+0001 U+0001) keeps NUL out
 * of the encoded type, so the first NUL is always the separator and no two pairs share a key, even
 * for a type that contains NUL (`("m.room.power_levels\0", "")` is not `("m.room.power_levels", "\0")`).
 * Types without U+0000/U+0001 (every real one) are unchanged: `m.room.member\0@a:b`.
 */
export type StateKey = string;
export function stateKey(type: string, stateKeyValue: string): StateKey {
  return `${escapeKeyPart(type)}\u0000${stateKeyValue}`;
}
export function splitStateKey(key: StateKey): [type: string, stateKey: string] {
  const i = key.indexOf('\u0000');
  return [unescapeKeyPart(key.slice(0, i)), key.slice(i + 1)];
}

const NEEDS_ESCAPE = /[\u0000\u0001]/;

/** Escapes a string so that it contains no NUL (U+0001 doubles as the escape character). */
export function escapeKeyPart(part: string): string {
  if (!NEEDS_ESCAPE.test(part)) return part;
  return part.replace(/[\u0000\u0001]/g, (c) => (c === '\u0000' ? '\u0001\u0001' : '\u0001\u0002'));
}

export function unescapeKeyPart(part: string): string {
  if (!part.includes('\u0001')) return part;
  return part.replace(/\u0001([\u0001\u0002])/g, (_m, c: string) => (c === '\u0001' ? '\u0000' : '\u0001'));
}

/**
 * Several strings as one Map key that no other list of strings can produce: each part escaped
 * (`escapeKeyPart`) and joined by NUL. For in-memory keys (locks, caches, dedup sets).
 */
export function compositeKey(...parts: string[]): string {
  return parts.map(escapeKeyPart).join('\u0000');
}

/** A state map: `(type, state_key)` -> event id. */
export type StateIdMap = Map<StateKey, string>;
/** A state map with the events themselves. */
export type StateEventMap = Map<StateKey, RoomEvent>;

/** An ed25519 signing key of this server. Key ids look like `ed25519:a_AbCd`. */
export interface SigningKey {
  keyId: string;
  secretKey: Uint8Array;
  publicKey: Uint8Array;
}
