/**
 * The event DAG store: exact PDU JSON, per-event metadata, event id <-> short id, the per-room
 * timeline and the global stream. Layout: keyspaces.ts and docs/storage.md.
 *
 * Functions ending in `Txn` only add operations to a batch the caller writes atomically.
 */
import type { JsonObject, Pdu, RoomEvent } from '../core/types.js';
import type { BatchOp, Database } from './db.js';
import { decodeJson, encodeJson, position, readPosition, readU32, readU64, u32, u64 } from './codec.js';
import { LruCache } from './lru.js';

/** What the server knows about an event besides its PDU. */
export interface EventMeta {
  /** Stored here because event ids derive from the PDU and are not part of it. */
  eventId: string;
  roomShort: number;
  /** Global stream position at which the event was persisted (negative for backfilled events). */
  stream: number;
  depth: number;
  /** State snapshot before the event, and after it (equal for non-state events). */
  stateBefore: number;
  stateAfter: number;
  /** For state events: the event this one replaced at the same (type, state_key), if any. */
  replaces?: string;
  /** Transaction id, echoed in `unsigned.transaction_id` to the sending device only. */
  txn?: { userId: string; deviceId: string; txnId: string };
  /** Id of the redaction event that redacted this one. */
  redactedBy?: string;
  /** Set once a child event relates to this one: only then are its aggregations looked up. */
  related?: true;
  /**
   * Absent for accepted events. Soft-failed, outlier and rejected events (server-server "Checks
   * performed on receipt of a PDU") are stored by id only: no timeline or stream entry.
   */
  status?: 'soft_failed' | 'outlier' | 'rejected';
  /** Why a rejected event was rejected (the auth rule that failed), for operators. */
  rejectedReason?: string;
  /** An invite from another server: the stripped state it sent (client-server "Stripped state"). */
  inviteState?: JsonObject[];
}

export interface StoredEvent extends RoomEvent {
  short: number;
  meta: EventMeta;
}

export interface TimelineEntry {
  stream: number;
  eventShort: number;
}

export class EventStore {
  /**
   * Recently used events by id (redaction targets, /event, /context, relations; room state is held
   * by the engine's state cache, timelines are read by short id). 256 events of ~2 KB each: 1,024
   * measured ~1 MB more idle RSS after 10k sends (docs/performance.md) and no difference in sends,
   * /sync wake-up or back-pagination within this machine's noise.
   */
  private readonly byId = new LruCache<string, StoredEvent>(256);
  /**
   * The ids of those events by short id: timelines, state snapshots and the stream name events by
   * short id, and without this each read of a cached event still cost two LevelDB reads (~35 us
   * each through libuv's pool) before the cache was asked. `byId` stays the one owner of the objects
   * (the engine updates a cached event's meta in place).
   */
  private readonly idByShort = new LruCache<number, string>(256);
  private nextShort = 1;

  constructor(private readonly db: Database) {}

  /** Loads the id counter from the last stored event (robust against batches landing out of order). */
  async open(): Promise<void> {
    for await (const key of this.db.space('eventJson').keys({ reverse: true, limit: 1 })) {
      this.nextShort = readU64(key) + 1;
    }
  }

  allocateShort(): number {
    return this.nextShort++;
  }

  /** Adds an event with its indexes to a batch: JSON, meta, id index, timeline and stream entries. */
  persistEventTxn(ops: BatchOp[], event: RoomEvent, short: number, meta: EventMeta): StoredEvent {
    const key = u64(short);
    ops.push(
      this.db.put('eventJson', key, Buffer.from(JSON.stringify(event.pdu), 'utf8')),
      this.db.put('eventMeta', key, encodeJson(meta)),
      this.db.put('eventShortById', Buffer.from(event.event_id, 'utf8'), key),
    );
    if (meta.status !== undefined) return { ...event, short, meta };
    ops.push(this.db.put('timeline', Buffer.concat([u32(meta.roomShort), position(meta.stream)]), key));
    if (meta.stream > 0) {
      ops.push(this.db.put('stream', u64(meta.stream), Buffer.concat([u32(meta.roomShort), key])));
    }
    const stored: StoredEvent = { ...event, short, meta };
    return stored;
  }

  /** Makes a just-written event visible to readers through the cache. */
  remember(event: StoredEvent): void {
    this.byId.set(event.event_id, event);
    this.idByShort.set(event.short, event.event_id);
  }

  updateMetaTxn(ops: BatchOp[], event: StoredEvent, meta: EventMeta): void {
    ops.push(this.db.put('eventMeta', u64(event.short), encodeJson(meta)));
  }

  async shortOf(eventId: string): Promise<number | undefined> {
    const cached = this.byId.get(eventId);
    if (cached) return cached.short;
    const v = await this.db.space('eventShortById').get(Buffer.from(eventId, 'utf8'));
    return v === undefined ? undefined : readU64(v);
  }

  async get(eventId: string): Promise<StoredEvent | undefined> {
    const cached = this.byId.get(eventId);
    if (cached) return cached;
    const short = await this.shortOf(eventId);
    if (short === undefined) return undefined;
    return this.getByShort(short);
  }

  async getByShort(short: number): Promise<StoredEvent | undefined> {
    const id = this.idByShort.get(short);
    const hit = id === undefined ? undefined : this.byId.get(id);
    if (hit) return hit;
    const key = u64(short);
    const [json, metaBuf] = await Promise.all([this.db.space('eventJson').get(key), this.db.space('eventMeta').get(key)]);
    if (json === undefined || metaBuf === undefined) return undefined;
    const meta = decodeJson<EventMeta>(metaBuf);
    const cached = this.byId.get(meta.eventId);
    if (cached) return cached;
    const pdu = decodeJson<Pdu>(json);
    // A v12 create event has no room_id; its room id is its event id with '!' for '$' (rooms/v12).
    const stored: StoredEvent = { event_id: meta.eventId, room_id: pdu.room_id ?? `!${meta.eventId.slice(1)}`, pdu, short, meta };
    this.byId.set(meta.eventId, stored);
    this.idByShort.set(short, meta.eventId);
    return stored;
  }

  /**
   * Timeline entries of a room, from `fromStream` (exclusive) in direction `dir`, bounded by
   * `toStream` (exclusive) when given. 'b' walks backwards (newest first).
   */
  async timeline(
    roomShort: number,
    opts: { from: number; dir: 'f' | 'b'; limit: number; to?: number },
  ): Promise<TimelineEntry[]> {
    const room = u32(roomShort);
    const range =
      opts.dir === 'b'
        ? {
            lt: Buffer.concat([room, position(opts.from)]),
            gt: Buffer.concat([room, position(opts.to ?? Number.MIN_SAFE_INTEGER)]),
            reverse: true,
          }
        : {
            gt: Buffer.concat([room, position(opts.from)]),
            lt: Buffer.concat([room, position(opts.to ?? Number.MAX_SAFE_INTEGER)]),
            reverse: false,
          };
    const out: TimelineEntry[] = [];
    for await (const [key, value] of this.db.space('timeline').iterator({ ...range, limit: opts.limit })) {
      out.push({ stream: readPosition(key, 4), eventShort: readU64(value) });
    }
    return out;
  }

  /** Global stream entries with positions in (from, to], oldest first. */
  async streamRange(from: number, to: number, limit: number): Promise<{ stream: number; roomShort: number; eventShort: number }[]> {
    const out: { stream: number; roomShort: number; eventShort: number }[] = [];
    for await (const [key, value] of this.db.space('stream').iterator({ gt: u64(from), lte: u64(to), limit })) {
      out.push({ stream: readU64(key), roomShort: readU32(value), eventShort: readU64(value, 4) });
    }
    return out;
  }

  /** Global stream entries with positions below `before`, newest first. */
  async streamBefore(before: number, limit: number): Promise<{ stream: number; roomShort: number; eventShort: number }[]> {
    const out: { stream: number; roomShort: number; eventShort: number }[] = [];
    for await (const [key, value] of this.db.space('stream').iterator({ lt: u64(Math.max(0, before)), reverse: true, limit })) {
      out.push({ stream: readU64(key), roomShort: readU32(value), eventShort: readU64(value, 4) });
    }
    return out;
  }

  /** Highest stream position of any stored event (0 when empty). */
  async lastStream(): Promise<number> {
    for await (const key of this.db.space('stream').keys({ reverse: true, limit: 1 })) return readU64(key);
    return 0;
  }
}
