/**
 * Event filters (client-server-api "Filtering"): pure matching of events against a RoomEventFilter,
 * plus parsing a filter given inline (JSON) or by id. Unknown keys are ignored as the spec allows.
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

function isStringArray(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((x) => typeof x === 'string');
}

/** Validates a RoomEventFilter (or the event-filter keys of a RoomFilter); throws a message on bad input. */
export function validateEventFilter(f: unknown, where: string): EventFilter | undefined {
  if (f === undefined) return undefined;
  if (!isJsonObject(f)) throw new Error(`${where} must be an object`);
  const o = f as Record<string, unknown>;
  for (const k of ['types', 'not_types', 'senders', 'not_senders', 'rooms', 'not_rooms']) {
    if (o[k] !== undefined && !isStringArray(o[k])) throw new Error(`${where}.${k} must be a list of strings`);
  }
  if (o.limit !== undefined && (!Number.isInteger(o.limit) || (o.limit as number) < 0)) {
    throw new Error(`${where}.limit must be a non-negative integer`);
  }
  return o as EventFilter;
}

/** Validates the shape of a filter (client-server "POST /user/{userId}/filter"); throws a message on bad input. */
export function validateFilter(raw: unknown): SyncFilter {
  if (!isJsonObject(raw)) throw new Error('filter must be an object');
  const check = validateEventFilter;
  const f = raw as Record<string, unknown>;
  check(f.presence, 'presence');
  check(f.account_data, 'account_data');
  if (f.room !== undefined) {
    check(f.room, 'room');
    const room = f.room as Record<string, unknown>;
    for (const k of ['timeline', 'state', 'ephemeral', 'account_data']) check(room[k], `room.${k}`);
  }
  if (f.event_fields !== undefined && !isStringArray(f.event_fields)) throw new Error('event_fields must be a list of strings');
  if (f.event_format !== undefined && f.event_format !== 'client' && f.event_format !== 'federation') {
    throw new Error('event_format must be "client" or "federation"');
  }
  return f as SyncFilter;
}
