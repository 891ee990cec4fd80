/**
 * Event filters (client-server-api "Filtering"): pure matching of events against a RoomEventFilter,
 * plus validating a filter's known fields. Unknown keys are accepted and ignored as the spec allows.
 */
import type { JsonObject } from '../core/types.js';
import { isJsonObject } from '../core/json-object.js';

export interface EventFilter {
  limit?: number;
  types?: string[];
  not_types?: string[];
  senders?: string[];
  not_senders?: string[];
  rooms?: string[];
  not_rooms?: string[];
  contains_url?: boolean;
  lazy_load_members?: boolean;
  /** With lazy_load_members, send members even if this device was already sent them. */
  include_redundant_members?: boolean;
  /** Report unread counts per thread (client-server "Threaded read receipts", "Syncing"). */
  unread_thread_notifications?: boolean;
}

export interface RoomFilter {
  rooms?: string[];
  not_rooms?: string[];
  timeline?: EventFilter;
  state?: EventFilter;
  ephemeral?: EventFilter;
  account_data?: EventFilter;
  include_leave?: boolean;
}

export interface SyncFilter {
  event_fields?: string[];
  event_format?: 'client' | 'federation';
  presence?: EventFilter;
  account_data?: EventFilter;
  room?: RoomFilter;
}

/** Glob match with `*` wildcards, as the spec allows in types and senders filters. */
function globMatch(pattern: string, value: string): boolean {
  if (!pattern.includes('*')) return pattern === value;
  const re = new RegExp(`^${pattern.split('*').map(escapeRegExp).join('.*')}$`);
  return re.test(value);
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export function matchesEventFilter(
  filter: EventFilter | undefined,
  ev: { type: string; sender: string; room_id?: string; content?: JsonObject },
): boolean {
  if (!filter) return true;
  if (filter.not_types?.some((p) => globMatch(p, ev.type))) return false;
  if (filter.types && !filter.types.some((p) => globMatch(p, ev.type))) return false;
  if (filter.not_senders?.includes(ev.sender)) return false;
  if (filter.senders && !filter.senders.includes(ev.sender)) return false;
  if (ev.room_id !== undefined) {
    if (filter.not_rooms?.includes(ev.room_id)) return false;
    if (filter.rooms && !filter.rooms.includes(ev.room_id)) return false;
  }
  if (filter.contains_url !== undefined && ev.content) {
    const hasUrl = typeof ev.content.url === 'string';
    if (hasUrl !== filter.contains_url) return false;
  }
  return true;
}

export function roomAllowed(filter: RoomFilter | undefined, roomId: string): boolean {
  if (!filter) return true;
  if (filter.not_rooms?.includes(roomId)) return false;
  if (filter.rooms && !filter.rooms.includes(roomId)) return false;
  return true;
}

/** Keeps only the listed dotted paths of a client event (filter `event_fields`). */
export function projectFields<T extends object>(event: T, fields: string[] | undefined): T {
  if (!fields || fields.length === 0) return event;
  const out: Record<string, unknown> = {};
  for (const field of fields) {
    const parts = field.split(/(?<!\\)\./).map((p) => p.replace(/\\\./g, '.'));
    let src: unknown = event;
    for (const p of parts) src = src && typeof src === 'object' ? (src as Record<string, unknown>)[p] : undefined;
    if (src === undefined) continue;
    let dst = out;
    parts.slice(0, -1).forEach((p) => {
      dst[p] = (dst[p] as Record<string, unknown>) ?? {};
      dst = dst[p] as Record<string, unknown>;
    });
    dst[parts[parts.length - 1]!] = src;
  }
  return out as T;
}

/**
 * The type of each known field, after the spec's filter definitions (client-server "Filtering",
 * definitions/event_filter.yaml, room_event_filter.yaml, sync_filter.yaml) and Synapse's
 * USER_FILTER_SCHEMA (api/filtering.py). Unknown fields are accepted: both allow extensions.
 */
type FieldKind = 'boolean' | 'limit' | 'strings' | 'eventFilter' | 'roomEventFilter' | 'roomFilter' | 'eventFormat';

const EVENT_FILTER_FIELDS: Record<string, FieldKind> = {
  limit: 'limit',
  types: 'strings',
  not_types: 'strings',
  senders: 'strings',
  not_senders: 'strings',
};

const ROOM_EVENT_FILTER_FIELDS: Record<string, FieldKind> = {
  ...EVENT_FILTER_FIELDS,
  rooms: 'strings',
  not_rooms: 'strings',
  contains_url: 'boolean',
  lazy_load_members: 'boolean',
  include_redundant_members: 'boolean',
  unread_thread_notifications: 'boolean',
};

const ROOM_FILTER_FIELDS: Record<string, FieldKind> = {
  rooms: 'strings',
  not_rooms: 'strings',
  include_leave: 'boolean',
  timeline: 'roomEventFilter',
  state: 'roomEventFilter',
  ephemeral: 'roomEventFilter',
  account_data: 'roomEventFilter',
};

const FILTER_FIELDS: Record<string, FieldKind> = {
  event_fields: 'strings',
  event_format: 'eventFormat',
  presence: 'eventFilter',
  account_data: 'eventFilter',
  room: 'roomFilter',
};

function isStringArray(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((x) => typeof x === 'string');
}

/** Checks an object's known fields against `fields`; throws a message naming the first wrong one. */
function checkFields(value: unknown, fields: Record<string, FieldKind>, where: string): void {
  if (!isJsonObject(value)) throw new Error(`${where} must be an object`);
  const o = value as Record<string, unknown>;
  for (const [key, kind] of Object.entries(fields)) {
    const v = o[key];
    if (v === undefined) continue;
    const at = `${where}.${key}`;
    switch (kind) {
      case 'boolean':
        if (typeof v !== 'boolean') throw new Error(`${at} must be a boolean`);
        break;
      case 'limit':
        if (!Number.isInteger(v) || (v as number) < 0) throw new Error(`${at} must be a non-negative integer`);
        break;
      case 'strings':
        if (!isStringArray(v)) throw new Error(`${at} must be a list of strings`);
        break;
      case 'eventFormat':
        if (v !== 'client' && v !== 'federation') throw new Error(`${at} must be "client" or "federation"`);
        break;
      case 'eventFilter':
        checkFields(v, EVENT_FILTER_FIELDS, at);
        break;
      case 'roomEventFilter':
        checkFields(v, ROOM_EVENT_FILTER_FIELDS, at);
        break;
      case 'roomFilter':
        checkFields(v, ROOM_FILTER_FIELDS, at);
        break;
    }
  }
}

/** Validates a RoomEventFilter (`/messages`, `/context`, search); throws a message on bad input. */
export function validateEventFilter(f: unknown, where: string): EventFilter | undefined {
  if (f === undefined) return undefined;
  checkFields(f, ROOM_EVENT_FILTER_FIELDS, where);
  return f as EventFilter;
}

/**
 * Validates a whole filter (client-server "POST /user/{userId}/filter", and `filter` of /sync given
 * inline); throws a message on bad input. Invalid filters are refused, not silently ignored.
 */
export function validateFilter(raw: unknown): SyncFilter {
  checkFields(raw, FILTER_FIELDS, 'filter');
  return raw as SyncFilter;
}
