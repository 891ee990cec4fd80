/**
 * Reading a room's timeline for clients: pages in either direction between positions, with filters
 * and history visibility, and the room state at a stream position. Positions follow tokens.ts:
 * position P is the point just after the event with stream position P.
 */
import { forbidden } from '../core/errors.js';
import type { RoomEngine, StoredEvent, StoredStateMap } from './engine.js';
import { matchesEventFilter, type EventFilter } from './filter.js';
import { roomReaderFor, type IgnoredUsersLookup, type RoomReader } from './visibility.js';
import { historyVisibilityOf } from '../state/history-visibility.js';

export interface Page {
  events: StoredEvent[];
  /** Position to continue from, or undefined when the end of the timeline was reached. */
  next?: number;
}

/** Bound on events examined per page when a filter rejects many (keeps one request cheap). */
const MAX_SCAN_FACTOR = 20;
/** Events examined from the timestamp boundary before /timestamp_to_event gives up. */
const MAX_TIMESTAMP_WALK = 500;

export class TimelineReader {
  constructor(
    private readonly engine: RoomEngine,
    private readonly ignoredUsersOf?: IgnoredUsersLookup,
  ) {}

  /**
   * Up to `limit` events after (`f`) or before (`b`) position `from`, not crossing `to`.
   * Backwards pages are returned newest first, as /messages wants.
   */
  async page(
    roomId: string,
    opts: { from: number; dir: 'f' | 'b'; limit: number; to?: number; filter?: EventFilter; reader?: RoomReader },
  ): Promise<Page> {
    const room = this.engine.requireRoom(roomId);
    // /context with limit=0 asks for no neighbours at all.
    if (opts.limit <= 0) return { events: [], next: opts.from };
    const out: StoredEvent[] = [];
    let cursor = opts.from;
    let scanned = 0;
    const batch = Math.max(opts.limit, 1);
    for (;;) {
      // Timeline keys are exclusive bounds: backwards from "after P" means stream < P + 1.
      const entries = await this.engine.timeline(room.short, {
        from: opts.dir === 'b' ? cursor + 1 : cursor,
        dir: opts.dir,
        limit: batch,
        to: opts.to === undefined ? undefined : opts.dir === 'b' ? opts.to : opts.to + 1,
      });
      for (const entry of entries) {
        scanned++;
        cursor = opts.dir === 'b' ? entry.stream - 1 : entry.stream;
        const ev = await this.engine.eventByShort(entry.eventShort);
        if (!ev) continue;
        if (!matchesEventFilter(opts.filter, { type: ev.pdu.type, sender: ev.pdu.sender, content: ev.pdu.content })) continue;
        // History visibility: events the user may not see are skipped like filtered ones.
        if (opts.reader && !(await opts.reader.canSee(ev))) continue;
        out.push(ev);
        if (out.length >= opts.limit) return { events: out, next: cursor };
      }
      if (entries.length < batch) return { events: out, next: undefined };
      if (scanned >= opts.limit * MAX_SCAN_FACTOR) return { events: out, next: cursor };
    }
  }

  /**
   * The event closest to `ts` in direction `dir` (client-server "GET /timestamp_to_event"): the
   * first visible event at or after it (`f`), or the last at or before it (`b`), up to `upTo`.
   * Timestamps follow stream order almost everywhere, so a binary search over stream positions
   * finds the boundary in a few seeks; a walk of at most {@link MAX_TIMESTAMP_WALK} events from
   * there settles visibility and local disorder (bridged readings replayed with their own time).
   */
  async eventNearTimestamp(roomId: string, ts: number, dir: 'f' | 'b', reader: RoomReader, upTo: number): Promise<StoredEvent | undefined> {
    const room = this.engine.requireRoom(roomId);
    const at = async (entry: { eventShort: number } | undefined) => (entry ? this.engine.eventByShort(entry.eventShort) : undefined);
    const [first] = await this.engine.timeline(room.short, { from: Number.MIN_SAFE_INTEGER, dir: 'f', limit: 1 });
    const [last] = await this.engine.timeline(room.short, { from: Math.min(upTo, Number.MAX_SAFE_INTEGER - 1) + 1, dir: 'b', limit: 1 });
    if (!first || !last) return undefined;
    // Smallest position whose event is at or after ts (assuming order), within [lo, hi].
    let lo = first.stream;
    let hi = last.stream;
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      const [entry] = await this.engine.timeline(room.short, { from: mid - 1, dir: 'f', limit: 1, to: hi + 1 });
      const event = await at(entry);
      if (!entry || !event) break;
      // Positions are shared by all rooms, so this room's are sparse: the first entry at or after
      // `mid` may be `hi` itself. No entry lies in [mid, entry.stream), so `mid` is as good a bound
      // as entry.stream and always moves `hi` down (hi = entry.stream looped forever on a gap).
      if (event.pdu.origin_server_ts >= ts) hi = mid;
      else lo = entry.stream + 1;
    }
    // The entry the bound stands for (at `hi` or after it, past a gap): a backwards walk must include it.
    const [atBoundary] = await this.engine.timeline(room.short, { from: hi - 1, dir: 'f', limit: 1 });
    const boundary = atBoundary ? Math.max(hi, Math.min(atBoundary.stream, last.stream)) : hi;
    const walk = await this.engine.timeline(room.short, {
      from: dir === 'f' ? boundary - 1 : Math.min(boundary, upTo) + 1,
      dir,
      limit: MAX_TIMESTAMP_WALK,
      ...(dir === 'f' ? { to: upTo + 1 } : {}),
    });
    for (const entry of walk) {
      const event = await at(entry);
      if (!event) continue;
      const fits = dir === 'f' ? event.pdu.origin_server_ts >= ts : event.pdu.origin_server_ts <= ts;
      if (fits && (await reader.canSee(event))) return event;
    }
    return undefined;
  }

  /** The room state just after position `pos` (the state after the last event at or before it). */
  async stateAtPosition(roomId: string, pos: number): Promise<StoredStateMap> {
    const room = this.engine.requireRoom(roomId);
    const [entry] = await this.engine.timeline(room.short, { from: pos + 1, dir: 'b', limit: 1 });
    if (!entry) return new Map();
    const ev = await this.engine.eventByShort(entry.eventShort);
    return ev ? this.engine.stateAt(ev, 'after') : new Map();
  }

  /**
   * The newest position a user may read in a room, before history visibility decides event by
   * event (visibility.ts): users with a membership read up to now, former members up to the moment
   * they left. Users who never had one may read a room that is `world_readable` now (client-server
   * "Room Previews"; the events they get are those sent while it was); others are refused.
   */
  async readableUpTo(userId: string, roomId: string): Promise<number> {
    this.engine.requireRoom(roomId);
    const entry = await this.engine.membershipEntry(userId, roomId);
    if (entry && (entry.membership === 'leave' || entry.membership === 'ban')) return entry.stream;
    if (entry) return Number.MAX_SAFE_INTEGER;
    const visibility = (await this.engine.stateEvent(roomId, 'm.room.history_visibility', ''))?.pdu.content;
    if (historyVisibilityOf(visibility) === 'world_readable') return Number.MAX_SAFE_INTEGER;
    throw forbidden('You are not a member of this room');
  }

  /** The user's history-visibility view of the room (without the users they ignore), for one request. */
  async readerFor(userId: string, roomId: string): Promise<RoomReader> {
    return roomReaderFor(this.engine, userId, roomId, await this.ignoredUsersOf?.(userId));
  }
}
