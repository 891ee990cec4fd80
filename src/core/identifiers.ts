/**
 * Identifier grammar (appendices "Identifier Grammar"): server names, user ids, room ids, room
 * aliases, event ids. Parsing is tolerant where the spec says servers MUST accept historical
 * forms (user ids received over federation) and strict where we mint new identifiers.
 */
import { isIPv6 } from 'node:net';
import type { RoomVersionRules } from './room-versions.js';

/** User ids, room ids, room aliases and event ids are at most 255 bytes, sigil and domain included. */
export const MAX_IDENTIFIER_BYTES = 255;

export interface ServerName {
  /** As written, without port; an IPv6 literal keeps its brackets (`[::1]`). */
  host: string;
  port?: number;
  kind: 'ipv4' | 'ipv6' | 'dns';
}

const PORT = /^[0-9]{1,5}$/;
const IPV4 = /^([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})$/;
const DNS_NAME = /^[A-Za-z0-9.-]{1,255}$/;
const IPV6_CHARS = /^[0-9A-Fa-f:.]{2,45}$/;

/**
 * Parse `hostname [ ":" port ]` (appendices "Server Name"). An all-digit dotted quad is taken as
 * an IPv4 literal and must have octets 0-255; an IPv6 literal must be valid per RFC 3513 2.2.
 * The port must fit in 16 bits (the grammar's `1*5DIGIT` also admits 65536-99999, which no server
 * can listen on). Server names are case-sensitive and returned unchanged.
 */
export function parseServerName(serverName: string): ServerName | undefined {
  let host = serverName;
  let portText: string | undefined;
  if (serverName.startsWith('[')) {
    const close = serverName.indexOf(']');
    if (close < 0) return undefined;
    host = serverName.slice(0, close + 1);
    const rest = serverName.slice(close + 1);
    if (rest !== '') {
      if (!rest.startsWith(':')) return undefined;
      portText = rest.slice(1);
    }
  } else {
    const colon = serverName.lastIndexOf(':');
    if (colon >= 0) {
      host = serverName.slice(0, colon);
      portText = serverName.slice(colon + 1);
    }
  }
  let port: number | undefined;
  if (portText !== undefined) {
    if (!PORT.test(portText)) return undefined;
    port = Number(portText);
    if (port > 65535) return undefined;
  }
  const kind = hostKind(host);
  if (kind === undefined) return undefined;
  return port === undefined ? { host, kind } : { host, port, kind };
}

function hostKind(host: string): ServerName['kind'] | undefined {
  if (host.startsWith('[')) {
    const literal = host.slice(1, -1);
    return host.endsWith(']') && IPV6_CHARS.test(literal) && isIPv6(literal) ? 'ipv6' : undefined;
  }
  const quad = IPV4.exec(host);
  if (quad) return quad.slice(1).every((octet) => Number(octet) <= 255) ? 'ipv4' : undefined;
  return DNS_NAME.test(host) ? 'dns' : undefined;
}

export function isValidServerName(serverName: string): boolean {
  return parseServerName(serverName) !== undefined;
}

/**
 * The server name of a `&localpart:domain` identifier: everything after the first `:` (no
 * localpart may contain `:`). Undefined for identifiers without a domain (event ids, v12 room ids).
 */
export function serverNameOf(identifier: string): string | undefined {
  const colon = identifier.indexOf(':');
  return colon < 0 ? undefined : identifier.slice(colon + 1);
}

export interface UserId {
  localpart: string;
  serverName: string;
}

/**
 * Historical user id localparts (appendices "Historical User IDs"): any non-surrogate code
 * points except `:` and NUL, even empty. Servers MUST accept these in events.
 */
const HISTORICAL_LOCALPART = /^[^:\u0000\p{Cs}]*$/u;
/** Room id (server-name form) and room alias localparts: the same set of code points. */
const OPAQUE_LOCALPART = HISTORICAL_LOCALPART;
/** Localparts we register (appendices "User Identifiers"): `a-z 0-9 . _ = - / +`, non-empty. */
const NEW_LOCALPART = /^[a-z0-9._=\-/+]+$/;
/** Compliant localparts use only U+0021-U+007E and are non-empty ("Historical User IDs"). */
const COMPLIANT_LOCALPART = /^[\u0021-\u007e]+$/;

/**
 * Parse `@localpart:server_name`, tolerating historical localparts, as must be done for
 * `sender`, `state_key` and the like. Undefined if the grammar or the 255-byte limit is broken.
 */
export function parseUserId(userId: string): UserId | undefined {
  const parts = splitSigilled(userId, '@');
  if (parts === undefined || !HISTORICAL_LOCALPART.test(parts.localpart)) return undefined;
  return parts;
}

export function isValidUserId(userId: string): boolean {
  return parseUserId(userId) !== undefined;
}

/**
 * Whether a user id is compliant rather than merely historical: non-empty localpart of
 * U+0021-U+007E only. Servers SHOULD NOT forward non-compliant ids to clients outside events.
 */
export function isCompliantUserId(userId: string): boolean {
  const parsed = parseUserId(userId);
  return parsed !== undefined && COMPLIANT_LOCALPART.test(parsed.localpart);
}

/**
 * Whether we may mint `@localpart:serverName` for a new account: the strict character set and the
 * 255-byte limit of the whole user id (appendices "User Identifiers").
 */
export function isValidNewLocalpart(localpart: string, serverName: string): boolean {
  return NEW_LOCALPART.test(localpart) && Buffer.byteLength(`@${localpart}:${serverName}`, 'utf8') <= MAX_IDENTIFIER_BYTES;
}

/** A room alias `#localpart:server_name` (appendices "Room Aliases"). */
export function isValidRoomAlias(alias: string): boolean {
  const parts = splitSigilled(alias, '#');
  return parts !== undefined && OPAQUE_LOCALPART.test(parts.localpart) && parts.localpart !== '';
}

/** `$` or `!` followed by 43 URL-safe base64 characters: the encoding of a sha256 hash. */
const HASH_ID_BODY = /^[A-Za-z0-9_-]{43}$/;

/**
 * An event id of the room versions we support (rooms/v4 "Event IDs"): `$` + URL-safe unpadded
 * base64 of a sha256 reference hash.
 */
export function isValidEventId(eventId: string): boolean {
  return eventId.startsWith('$') && HASH_ID_BODY.test(eventId.slice(1));
}

/**
 * A room id (appendices "Room IDs"). Room versions before 12 use `!opaque:server_name`; room
 * version 12 uses the create event's id with `!` as sigil. With `rules`, only that version's
 * form is accepted; without, either (e.g. before the version is known).
 */
export function isValidRoomId(roomId: string, rules?: RoomVersionRules): boolean {
  const hashForm = roomId.startsWith('!') && HASH_ID_BODY.test(roomId.slice(1));
  if (rules?.roomIdIsCreateEventHash === true) return hashForm;
  const parts = splitSigilled(roomId, '!');
  const serverForm = parts !== undefined && parts.localpart !== '' && OPAQUE_LOCALPART.test(parts.localpart);
  return rules === undefined ? serverForm || hashForm : serverForm;
}

/** Split `sigil localpart ":" server_name`, checking the sigil, server name and byte limit. */
function splitSigilled(identifier: string, sigil: string): UserId | undefined {
  if (!identifier.startsWith(sigil)) return undefined;
  if (Buffer.byteLength(identifier, 'utf8') > MAX_IDENTIFIER_BYTES) return undefined;
  const colon = identifier.indexOf(':');
  if (colon < 0) return undefined;
  const serverName = identifier.slice(colon + 1);
  if (!isValidServerName(serverName)) return undefined;
  return { localpart: identifier.slice(sigil.length, colon), serverName };
}

/** A lone surrogate: a string that cannot be encoded as UTF-8 (and so cannot be hashed or signed). */
const LONE_SURROGATE = /\p{Cs}/u;

/** Whether a string is valid Unicode text: no lone UTF-16 surrogates. */
export function isWellFormedText(text: string): boolean {
  return !LONE_SURROGATE.test(text);
}

/**
 * What every identifier-like string of an event must satisfy: at most 255 bytes of UTF-8
 * (client-server "Size limits": `type`, `state_key`, ids), valid Unicode, and no NUL. NUL is
 * excluded by the identifier grammar (appendices "Identifier Grammar", "Historical User IDs") and
 * cannot be sent to or stored by other servers (Synapse on PostgreSQL refuses it).
 */
function isSafeIdentifierText(text: string): boolean {
  return !text.includes('\u0000') && isWellFormedText(text) && Buffer.byteLength(text, 'utf8') <= MAX_IDENTIFIER_BYTES;
}

/**
 * An event type (client-server "Types of room events", "Size limits"): a non-empty string of at
 * most 255 bytes, without NUL or lone surrogates. The spec gives no narrower grammar (namespacing
 * is a SHOULD), so other characters are allowed.
 */
export function isValidEventType(type: unknown): type is string {
  return typeof type === 'string' && type !== '' && isSafeIdentifierText(type);
}

/** A state key: any string (the empty one included) of at most 255 bytes, without NUL or lone surrogates. */
export function isValidStateKey(stateKey: unknown): stateKey is string {
  return typeof stateKey === 'string' && isSafeIdentifierText(stateKey);
}

/**
 * An event id of any room version, as it may appear in a path or a reference: `$` then at least
 * one character, at most 255 bytes, without NUL or lone surrogates. Versions 1-3 use
 * `$opaque:server`, later ones the reference hash (`isValidEventId`).
 */
export function isPlausibleEventId(eventId: unknown): eventId is string {
  return typeof eventId === 'string' && eventId.length > 1 && eventId.startsWith('$') && isSafeIdentifierText(eventId);
}

/** What `eventIdentifiersRefusal` checks: the identifier fields of an event about to be created. */
export interface EventIdentifiers {
  type: unknown;
  sender: unknown;
  state_key?: unknown;
  redacts?: unknown;
  room_id?: unknown;
}

/**
 * Why an event's identifiers break the grammar (the first problem found), or undefined when they are
 * fine. For every event the server creates or accepts: client sends, the MQTT bridge, federation.
 */
export function eventIdentifiersRefusal(event: EventIdentifiers): string | undefined {
  if (!isValidEventType(event.type)) return 'Invalid event type: a non-empty string of at most 255 bytes without NUL';
  if (event.state_key !== undefined && !isValidStateKey(event.state_key)) {
    return 'Invalid state key: a string of at most 255 bytes without NUL';
  }
  if (typeof event.sender !== 'string' || !isValidUserId(event.sender)) return 'Invalid sender user id';
  // A membership's state key is the user id it is about (client-server "m.room.member").
  if (event.type === 'm.room.member' && (typeof event.state_key !== 'string' || !isValidUserId(event.state_key))) {
    return 'Invalid state key: m.room.member needs a user id';
  }
  if (event.room_id !== undefined && (typeof event.room_id !== 'string' || !isValidRoomId(event.room_id))) return 'Invalid room id';
  if (event.redacts !== undefined && !isPlausibleEventId(event.redacts)) return 'Invalid event id in redacts';
  return undefined;
}
