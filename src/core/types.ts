/**
 * Shared protocol types. Pure data shapes, no behaviour.
 * Event format: rooms/v11.md and rooms/v12.md "Event format" (the PDU as it travels between servers).
 */

export type Json = null | boolean | number | string | Json[] | JsonObject;
export interface JsonObject {
  [key: string]: Json;
}

/** Room versions this server creates and joins. */
export type RoomVersionId = '10' | '11' | '12';

/**
 * A persistent data unit in the federation format of room versions 10-12. This is the exact object
 * that hashes and signatures cover; it never carries `event_id` (ids are derived from the reference
 * hash). In room version 12 the create event has no `room_id`.
 */
export interface Pdu {
  auth_events: string[];
  content: JsonObject;
  depth: number;
  hashes: { sha256: string };
  origin_server_ts: number;
  prev_events: string[];
  /** Top-level only in room version 10; from v11 it lives in `content.redacts`. */
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

/** `(type, state_key)` of a state event, joined by NUL so it can key a Map. */
export type StateKey = string;
export function stateKey(type: string, stateKeyValue: string): StateKey {
  return `${type}\u0000${stateKeyValue}`;
}
export function splitStateKey(key: StateKey): [type: string, stateKey: string] {
  const i = key.indexOf('\u0000');
  return [key.slice(0, i), key.slice(i + 1)];
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
