/**
 * The shapes of the EDUs other servers send us (server-server "EDUs", "Typing Notifications",
 * "Receipts", "Presence", "Device Management", "End-to-End Encryption", "Send-to-device
 * messaging"), checked before anything is applied. Pure: no I/O.
 *
 * The one rule every EDU shares: a server speaks only for its own users. An EDU about a user of
 * another server than the authenticated origin is refused whole ("the sending server must be the
 * server of the user"), so no server can make a stranger type, read, be online or change devices.
 */
import { isPlausibleEventId, isValidEventType, isValidRoomId, isValidUserId, serverNameOf } from '../../core/identifiers.js';
import { isJsonObject } from '../../core/json-object.js';
import type { JsonObject } from '../../core/types.js';

/** An EDU that is dropped; `message` says why (logged at debug level, never answered). */
export class EduRefused extends Error {}

/** Receipts of one EDU at most (rooms x users x events): beyond that the EDU is refused. */
export const MAX_RECEIPTS_PER_EDU = 1000;
/** Presence updates of one EDU at most. */
export const MAX_PRESENCE_PER_EDU = 1000;
/** Status messages are cut to this length (Synapse keeps them short too). */
const MAX_STATUS_MSG_CHARS = 1000;
/** Recipients (user, device) of one to-device EDU at most. */
export const MAX_TO_DEVICE_RECIPIENTS = 1000;
/** Previous stream ids one device list update may name. */
const MAX_PREV_IDS = 100;

function refuse(message: string): never {
  throw new EduRefused(message);
}

/** The user id, which must be valid and of `origin`. */
function userOf(origin: string, value: unknown, field: string): string {
  if (typeof value !== 'string' || !isValidUserId(value)) refuse(`${field} is not a user id`);
  if (serverNameOf(value) !== origin) refuse(`${field} ${value} is not a user of ${origin}`);
  return value;
}

function roomIdOf(value: unknown, field: string): string {
  if (typeof value !== 'string' || !isValidRoomId(value)) refuse(`${field} is not a room id`);
  return value;
}

function isNonNegativeInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

// ---- m.typing ----

export interface TypingEdu {
  roomId: string;
  userId: string;
  typing: boolean;
}

/** `m.typing`: `{ room_id, user_id, typing }`. */
export function parseTypingEdu(origin: string, content: JsonObject): TypingEdu {
  if (typeof content.typing !== 'boolean') refuse('typing must be a boolean');
  return { roomId: roomIdOf(content.room_id, 'room_id'), userId: userOf(origin, content.user_id, 'user_id'), typing: content.typing };
}

// ---- m.receipt ----

export interface ReceiptEduEntry {
  roomId: string;
  userId: string;
  eventId: string;
  ts: number;
  threadId?: string;
}

/**
 * `m.receipt`: `{ room_id: { "m.read": { user_id: { event_ids, data: { ts, thread_id? } } } } }`.
 * Only `m.read` travels between servers (private receipts never leave their server); other
 * receipt types are skipped. A user of another server than `origin` refuses the whole EDU.
 */
export function parseReceiptEdu(origin: string, content: JsonObject): ReceiptEduEntry[] {
  const out: ReceiptEduEntry[] = [];
  for (const [roomIdRaw, byType] of Object.entries(content)) {
    const roomId = roomIdOf(roomIdRaw, 'room id');
    if (!isJsonObject(byType)) refuse(`receipts of ${roomId} must be an object`);
    const read = byType['m.read'];
    if (read === undefined) continue;
    if (!isJsonObject(read)) refuse('m.read must be an object');
    for (const [userIdRaw, receipt] of Object.entries(read)) {
      const userId = userOf(origin, userIdRaw, 'receipt user');
      if (!isJsonObject(receipt) || !Array.isArray(receipt.event_ids)) refuse('a receipt needs event_ids');
      const data = receipt.data;
      if (!isJsonObject(data)) refuse('a receipt needs data');
      const ts = isNonNegativeInteger(data.ts) ? data.ts : refuse('data.ts must be a timestamp');
      const threadId = data.thread_id;
      if (threadId !== undefined && (typeof threadId !== 'string' || (threadId !== 'main' && !isPlausibleEventId(threadId)))) {
        refuse('data.thread_id must be "main" or an event id');
      }
      for (const eventId of receipt.event_ids) {
        if (!isPlausibleEventId(eventId)) refuse('event_ids must be event ids');
        out.push({ roomId, userId, eventId, ts, ...(threadId === undefined ? {} : { threadId }) });
        if (out.length > MAX_RECEIPTS_PER_EDU) refuse(`more than ${MAX_RECEIPTS_PER_EDU} receipts`);
      }
    }
  }
  return out;
}

// ---- m.presence ----

export interface PresenceEduEntry {
  userId: string;
  presence: 'online' | 'unavailable' | 'offline';
  lastActiveAgo?: number;
  currentlyActive?: boolean;
  statusMsg?: string;
}

const PRESENCE = new Set(['online', 'unavailable', 'offline']);

/** `m.presence`: `{ push: [{ user_id, presence, last_active_ago, currently_active?, status_msg? }] }`; bad entries are skipped, a stranger refuses the EDU. */
export function parsePresenceEdu(origin: string, content: JsonObject): PresenceEduEntry[] {
  if (!Array.isArray(content.push)) refuse('push must be an array');
  if (content.push.length > MAX_PRESENCE_PER_EDU) refuse(`more than ${MAX_PRESENCE_PER_EDU} presence updates`);
  const out: PresenceEduEntry[] = [];
  for (const entry of content.push) {
    if (!isJsonObject(entry)) continue;
    const userId = userOf(origin, entry.user_id, 'user_id');
    if (typeof entry.presence !== 'string' || !PRESENCE.has(entry.presence)) continue;
    const update: PresenceEduEntry = { userId, presence: entry.presence as PresenceEduEntry['presence'] };
    if (isNonNegativeInteger(entry.last_active_ago)) update.lastActiveAgo = entry.last_active_ago;
    if (typeof entry.currently_active === 'boolean') update.currentlyActive = entry.currently_active;
    if (typeof entry.status_msg === 'string') update.statusMsg = entry.status_msg.slice(0, MAX_STATUS_MSG_CHARS);
    out.push(update);
  }
  return out;
}

// ---- m.device_list_update ----

export interface DeviceListUpdate {
  userId: string;
  deviceId: string;
  displayName?: string;
  streamId: number;
  prevIds: number[];
  deleted: boolean;
  keys?: JsonObject;
}

/**
 * `m.device_list_update`: `{ user_id, device_id, device_display_name?, stream_id, prev_id?, deleted?, keys? }`.
 * The keys, when given, must be that device's (same `user_id` and `device_id`).
 */
export function parseDeviceListUpdate(origin: string, content: JsonObject): DeviceListUpdate {
  const userId = userOf(origin, content.user_id, 'user_id');
  const deviceId = content.device_id;
  if (typeof deviceId !== 'string' || deviceId.length === 0 || deviceId.length > 255) refuse('device_id must be a string');
  if (!isNonNegativeInteger(content.stream_id)) refuse('stream_id must be a non-negative integer');
  const prev = content.prev_id ?? [];
  if (!Array.isArray(prev) || prev.length > MAX_PREV_IDS || !prev.every(isNonNegativeInteger)) refuse('prev_id must be a list of stream ids');
  const update: DeviceListUpdate = { userId, deviceId, streamId: content.stream_id, prevIds: prev as number[], deleted: content.deleted === true };
  if (typeof content.device_display_name === 'string') update.displayName = content.device_display_name.slice(0, 255);
  if (content.keys !== undefined && !update.deleted) {
    const keys = content.keys;
    if (!isJsonObject(keys) || keys.user_id !== userId || keys.device_id !== deviceId) refuse('keys must be the keys of that device');
    update.keys = keys;
  }
  return update;
}

// ---- m.signing_key_update ----

export interface SigningKeyUpdate {
  userId: string;
  masterKey?: JsonObject;
  selfSigningKey?: JsonObject;
}

/** `m.signing_key_update`: `{ user_id, master_key?, self_signing_key? }`, each key the user's own. */
export function parseSigningKeyUpdate(origin: string, content: JsonObject): SigningKeyUpdate {
  const userId = userOf(origin, content.user_id, 'user_id');
  const update: SigningKeyUpdate = { userId };
  for (const [field, name] of [['master_key', 'masterKey'], ['self_signing_key', 'selfSigningKey']] as const) {
    const key = content[field];
    if (key === undefined) continue;
    if (!isJsonObject(key) || key.user_id !== userId || !isJsonObject(key.keys) || !Array.isArray(key.usage)) refuse(`${field} must be a cross-signing key of ${userId}`);
    update[name] = key;
  }
  if (!update.masterKey && !update.selfSigningKey) refuse('no key in the update');
  return update;
}

// ---- m.direct_to_device ----

export interface DirectToDevice {
  sender: string;
  type: string;
  messageId: string;
  /** user id (local or not: the receiver keeps its own) -> device id or `*` -> content. */
  messages: Record<string, Record<string, JsonObject>>;
}

/** `m.direct_to_device`: `{ sender, type, message_id, messages: { user_id: { device_id | "*": content } } }`. */
export function parseDirectToDevice(origin: string, content: JsonObject): DirectToDevice {
  const sender = userOf(origin, content.sender, 'sender');
  if (!isValidEventType(content.type)) refuse('type must be an event type');
  const messageId = content.message_id;
  if (typeof messageId !== 'string' || messageId.length === 0 || messageId.length > 255) refuse('message_id must be a string');
  if (!isJsonObject(content.messages)) refuse('messages must be an object');
  const messages: Record<string, Record<string, JsonObject>> = {};
  let recipients = 0;
  for (const [userId, byDevice] of Object.entries(content.messages)) {
    if (!isValidUserId(userId) || !isJsonObject(byDevice)) refuse('messages must map user ids to devices');
    const devices: Record<string, JsonObject> = {};
    for (const [deviceId, message] of Object.entries(byDevice)) {
      if (!isJsonObject(message)) refuse('each message must be an object');
      if (++recipients > MAX_TO_DEVICE_RECIPIENTS) refuse(`more than ${MAX_TO_DEVICE_RECIPIENTS} recipients`);
      devices[deviceId] = message;
    }
    messages[userId] = devices;
  }
  return { sender, type: content.type, messageId, messages };
}
