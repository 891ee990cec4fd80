/**
 * The shape checks a received PDU passes before anything else looks at it (server-server
 * "Checks performed on receipt of a PDU", step 1: "Is a valid event, otherwise it is dropped";
 * rooms/v1..v12 "Event format"; client-server "Size limits"). Pure.
 *
 * A PDU failing these is dropped: it is never stored, so it cannot poison the rest of its
 * transaction or anything built on it.
 */
import { CanonicalJsonError } from '../../core/canonical-json.js';
import { eventCanonicalJson } from '../../core/hashes.js';
import { isJsonObject } from '../../core/json-object.js';
import { isValidUserId, serverNameOf } from '../../core/identifiers.js';
import type { RoomVersionRules } from '../../core/room-versions.js';
import type { JsonObject, Pdu } from '../../core/types.js';

/** client-server "Size limits": the whole event as canonical JSON, at most 65536 bytes. */
export const MAX_PDU_BYTES = 65536;
/** Synapse refuses events naming more than 20 prev_events or 10 auth_events; so do we. */
export const MAX_PREV_EVENTS = 20;
export const MAX_AUTH_EVENTS = 10;
const MAX_ID_BYTES = 255;

export type PduVerdict = { ok: true; pdu: Pdu } | { ok: false; reason: string };

function isIdList(value: unknown, max: number): boolean {
  if (!Array.isArray(value) || value.length > max) return false;
  return value.every((ref) => {
    const id = Array.isArray(ref) ? ref[0] : ref;
    return typeof id === 'string' && id.startsWith('$') && Buffer.byteLength(id) <= MAX_ID_BYTES && !id.includes('\u0000');
  });
}

function isIdentifierText(value: unknown): value is string {
  return typeof value === 'string' && Buffer.byteLength(value) <= MAX_ID_BYTES && !value.includes('\u0000');
}

/** Checks a received JSON value is a well-formed PDU of the room `roomId` in a room of `rules`. */
export function checkPduFormat(raw: unknown, roomId: string | undefined, rules: RoomVersionRules): PduVerdict {
  if (!isJsonObject(raw)) return { ok: false, reason: 'not a JSON object' };
  const pdu = raw as JsonObject;
  if (!isIdentifierText(pdu.type) || pdu.type === '') return { ok: false, reason: 'bad type' };
  if (typeof pdu.sender !== 'string' || !isValidUserId(pdu.sender)) return { ok: false, reason: 'bad sender' };
  if (pdu.state_key !== undefined && !isIdentifierText(pdu.state_key)) return { ok: false, reason: 'bad state_key' };
  if (!isJsonObject(pdu.content)) return { ok: false, reason: 'content is not an object' };
  if (!Number.isSafeInteger(pdu.depth) || (pdu.depth as number) < 0) return { ok: false, reason: 'bad depth' };
  if (!Number.isSafeInteger(pdu.origin_server_ts)) return { ok: false, reason: 'bad origin_server_ts' };
  if (!isIdList(pdu.prev_events, MAX_PREV_EVENTS)) return { ok: false, reason: 'bad prev_events' };
  if (!isIdList(pdu.auth_events, MAX_AUTH_EVENTS)) return { ok: false, reason: 'bad auth_events' };
  if (!isJsonObject(pdu.hashes) || typeof pdu.hashes.sha256 !== 'string') return { ok: false, reason: 'bad hashes' };
  if (!isJsonObject(pdu.signatures)) return { ok: false, reason: 'bad signatures' };
  const isV12Create = rules.roomIdIsCreateEventHash && pdu.type === 'm.room.create';
  if (isV12Create) {
    if (pdu.room_id !== undefined) return { ok: false, reason: 'a v12 create event has no room_id' };
  } else {
    if (typeof pdu.room_id !== 'string') return { ok: false, reason: 'bad room_id' };
    if (roomId !== undefined && pdu.room_id !== roomId) return { ok: false, reason: `event is for room ${pdu.room_id}, not ${roomId}` };
  }
  if (pdu.redacts !== undefined && typeof pdu.redacts !== 'string') return { ok: false, reason: 'bad redacts' };
  let size: number;
  try {
    // v1-v5 allow what strict canonical JSON refuses (floats); rooms/v6 made it strict.
    size = Buffer.byteLength(eventCanonicalJson(pdu, rules), 'utf8');
  } catch (err) {
    // Floats, out-of-range integers, lone surrogates: canonical JSON cannot encode them (rooms/v6).
    if (err instanceof CanonicalJsonError) return { ok: false, reason: `not canonical JSON: ${err.message}` };
    throw err;
  }
  if (size > MAX_PDU_BYTES) return { ok: false, reason: `event is ${size} bytes; the limit is ${MAX_PDU_BYTES}` };
  return { ok: true, pdu: pdu as unknown as Pdu };
}

/**
 * The servers whose signatures an event must carry (server-server "Validating hashes and
 * signatures on received events"): the sender's server; for v1/v2 events the server that minted
 * the event id; for a restricted join the server of the authorising user (rooms/v8).
 */
export function requiredSigners(pdu: Pdu, eventId: string, rules: RoomVersionRules): string[] {
  const servers = new Set<string>([serverNameOf(pdu.sender)!]);
  // rooms/v1, rooms/v2 "Event IDs": the only versions whose event ids name a server.
  if (rules.eventIdFormat === 'server-generated') {
    const minted = serverNameOf(eventId);
    if (minted) servers.add(minted);
  }
  const authoriser = pdu.content.join_authorised_via_users_server;
  if (pdu.type === 'm.room.member' && pdu.content.membership === 'join' && typeof authoriser === 'string') {
    const server = serverNameOf(authoriser);
    if (server) servers.add(server);
  }
  return [...servers];
}
