/**
 * Unread notification counts (client-server-api "Syncing": `unread_notifications` of a joined room;
 * modules/push.md "Receiving notifications"): per user, room and thread, the events since the user
 * last read that thread which their push rules make notify, and how many of those highlight.
 *
 * Counted when an event is persisted, in the event's own batch (the engine's {@link EventBatchHook};
 * Synapse's `event_push_actions` are likewise written with the event): each local member joined in
 * the state before the event, other than the sender and not ignoring them, has their push rules
 * evaluated; a notifying event adds a `push_actions` row and bumps that thread's counter
 * (src/storage/unread-counts.ts). A sync reads the counters: exact, whatever the backlog, and
 * without walking the timeline.
 *
 * Read means (per thread: client-server "Threaded read receipts", "Marking notifications as read"):
 * an unthreaded `m.read`/`m.read.private` receipt reads every thread up to its event, a threaded one
 * (`main` or a root) that thread only, and the user's own event its own thread (the spec's "or by
 * sending an event"; Synapse 1.160 does not, docs/errors.md). Reading deletes the rows read
 * and lowers the counters by them, in one batch. Leaving the room drops the user's rows. A
 * redaction changes nothing (Synapse drops the redacted event's push action, but its count has
 * already been folded into `event_push_summary` by then and stays; here the count stays too).
 *
 * Every change to a room's counters happens under the room's lock (events are persisted under it;
 * receipts take it), so the in-memory copy of a room's counters is always what the last batch wrote.
 */
import type { Logger } from 'pino';
import type { JsonObject } from '../core/types.js';
import type { PushRuleset } from '../accounts/push-rules-defaults.js';
import type { EventBatchContext, EventBatchHook, RoomEngine, RoomRecord, StoredEvent, StoredStateMap } from '../rooms/engine.js';
import type { BatchOp, Database } from '../storage/db.js';
import { LruCache } from '../storage/lru.js';
import { UnreadCountStore, type PushActionRow, type RoomUnreadCounters, type UnreadCounter } from '../storage/unread-counts.js';
import { UNREAD_COUNTS_REBUILD } from '../storage/migrations/0004-unread-counts.js';
import { splitStateKey } from '../core/types.js';
import { CompiledPushRules } from './evaluator.js';
import { contextFor, isJoinedIn, roomPushFacts, type RoomPushFacts } from './room-facts.js';
import { MAIN_THREAD, threadIdOf } from '../rooms/relations.js';
import type { ReadReceipt } from './read-receipts.js';

export interface UnreadCounts {
  notification_count: number;
  highlight_count: number;
}

/** Counts of the main timeline and of each thread with unread notifications (by root id). */
export interface ThreadedUnreadCounts {
  main: UnreadCounts;
  threads: Record<string, UnreadCounts>;
}

export interface NotificationCountsDeps {
  engine: RoomEngine;
  db: Database;
  /** Only this server's users are counted: other servers count for theirs. */
  serverName: string;
  /** The user's whole ruleset, server defaults included (PushRulesService.pushRulesFor). */
  pushRulesFor(userId: string): Promise<{ global: PushRuleset }>;
  /** Subscribes to push rule changes (PushRulesService.onChange): cached rulesets are dropped. */
  onPushRulesChange?(listener: (userId: string) => void): void;
  /** The user's read receipts in the room (both receipt types, every thread); for the rebuild. */
  readReceipts(userId: string, roomId: string): Promise<ReadReceipt[]>;
  /** Whom the user ignores: their events never count ("Ignoring Users"). */
  ignoredUsersOf?(userId: string): Promise<ReadonlySet<string>>;
  /** The one-time rebuild after an upgrade reports its progress here (it can take minutes on a Pi). */
  log?: Pick<Logger, 'info'>;
}

/** How often the rebuild says how far it is. */
const REBUILD_PROGRESS_MS = 10_000;

/** Rooms whose counters are kept in memory (a home has tens; a miss is one short range scan). */
const ROOMS_CACHED = 256;
/** Rulesets kept compiled: every local member's, evaluated for each event of their rooms. */
const RULESETS_CACHED = 256;
/** Room facts by state snapshot: consecutive messages share one. */
const FACTS_CACHED = 16;
/** Timeline entries read per step and operations per batch when rebuilding. */
const REBUILD_PAGE = 500;
const REBUILD_BATCH_OPS = 2000;

/** What one snapshot says for counting: the facts push rules need, and who of ours is joined. */
interface SnapshotFacts {
  state: StoredStateMap;
  localJoined: string[];
  /** Facts per sender (their power level differs). */
  bySender: Map<string, RoomPushFacts>;
}

/** A counter change to apply to the in-memory copy once its batch is written. */
type CounterChange = [userId: string, thread: string, counter: UnreadCounter];

export class NotificationCounts implements EventBatchHook {
  private readonly store: UnreadCountStore;
  private readonly counters = new LruCache<number, RoomUnreadCounters>(ROOMS_CACHED);
  private readonly rulesets = new LruCache<string, Promise<CompiledPushRules>>(RULESETS_CACHED);
  private readonly facts = new LruCache<number, SnapshotFacts>(FACTS_CACHED);
  private readonly localSuffix: string;
  private removeHook: (() => void) | undefined;
  /** The rebuild of an upgraded store; readers wait for it. */
  private ready: Promise<void> = Promise.resolve();

  constructor(private readonly deps: NotificationCountsDeps) {
    this.store = new UnreadCountStore(deps.db);
    this.localSuffix = `:${deps.serverName}`;
    deps.onPushRulesChange?.((userId) => this.rulesets.delete(userId));
  }

  /**
   * Counts every event persisted from now on (at once) and fills the counts of a store upgraded
   * from version 3 (the promise; counts are read only once it is done).
   */
  start(): Promise<void> {
    if (this.removeHook) return this.ready;
    this.removeHook = this.deps.engine.addBatchHook(this);
    this.ready = this.rebuildPending();
    return this.ready;
  }

  stop(): void {
    this.removeHook?.();
    this.removeHook = undefined;
  }

  /** The `unread_notifications` of a joined room (every thread), including every event persisted so far. */
  async unreadCounts(userId: string, roomId: string): Promise<UnreadCounts> {
    await this.ready;
    const threads = (await this.roomCounters(roomId))?.get(userId);
    let notifications = 0;
    let highlights = 0;
    for (const c of threads?.values() ?? []) {
      notifications += c.notifications;
      highlights += c.highlights;
    }
    return { notification_count: notifications, highlight_count: highlights };
  }

  /** `unread_notifications` of the main timeline and `unread_thread_notifications` (threads with unread ones). */
  async threadedUnreadCounts(userId: string, roomId: string): Promise<ThreadedUnreadCounts> {
    await this.ready;
    const threads = (await this.roomCounters(roomId))?.get(userId);
    const out: ThreadedUnreadCounts = { main: asJson(undefined), threads: {} };
    for (const [thread, c] of threads ?? []) {
      if (thread === MAIN_THREAD) out.main = asJson(c);
      else out.threads[thread] = asJson(c);
    }
    return out;
  }

  /** Whether the user has read the event at `stream` (for /notifications): it has no unread row. */
  isRead(userId: string, roomId: string, stream: number): boolean {
    const room = this.deps.engine.room(roomId);
    return !room || !this.store.hasAction(room.short, userId, stream);
  }

  /**
   * The user read the room up to `eventId` (a read receipt; `threadId` '' or undefined unthreaded,
   * `main` or a root). Call it before the receipt is stored, so a sync the receipt wakes already
   * sees the new counts.
   */
  async markRead(userId: string, roomId: string, eventId: string, threadId = ''): Promise<void> {
    const event = await this.deps.engine.getEvent(eventId);
    await this.ready;
    if (!event || event.room_id !== roomId || event.meta.stream <= 0 || !this.deps.engine.room(roomId)) return;
    await this.deps.engine.runInRoom(roomId, async (room) => {
      const counters = await this.loadCounters(room.short);
      const ops: BatchOp[] = [];
      const changes = await this.readTxn(ops, room.short, counters, userId, event.meta.stream, threadId === '' ? undefined : threadId);
      if (ops.length === 0) return;
      await this.deps.db.write(ops);
      applyChanges(counters, changes);
    });
  }

  threadOf(event: StoredEvent): Promise<string> {
    return threadIdOf(event, (id) => this.deps.engine.getEvent(id));
  }

  /**
   * The engine's hook, for every accepted event, under the room lock, before its batch is written:
   * 1. the sender's own event reads its thread for them;
   * 2. each local member joined before the event (not the sender, not ignoring them) whose rules
   *    make it notify gets a row and a bumped counter;
   * 3. a local member leaving (or kicked, banned) loses their rows and counters in the room.
   */
  async eventTxn(ops: BatchOp[], ctx: EventBatchContext): Promise<(() => void) | undefined> {
    const { room, event } = ctx;
    const { pdu } = event;
    if (event.meta.stream <= 0) return undefined;
    const counters = await this.loadCounters(room.short);
    const changes: CounterChange[] = [];
    const thread = await this.threadOf(event);
    // 1.
    const senderThreads = counters.get(pdu.sender);
    if (senderThreads?.has(thread)) changes.push(...(await this.readTxn(ops, room.short, counters, pdu.sender, event.meta.stream, thread)));
    // 2.
    const facts = await this.factsBefore(room, event, ctx.stateBefore);
    const leaving = pdu.type === 'm.room.member' && pdu.state_key !== undefined && pdu.content.membership !== 'join' ? pdu.state_key : undefined;
    let shape: JsonObject | undefined;
    for (const userId of facts.localJoined) {
      if (userId === pdu.sender || userId === leaving) continue;
      if ((await this.deps.ignoredUsersOf?.(userId))?.has(pdu.sender)) continue;
      const outcome = (await this.rulesetOf(userId)).evaluate((shape ??= clientShape(event)), contextFor(roomFacts(facts, room, this.deps.engine, pdu.sender), userId));
      if (!outcome.notify) continue;
      this.store.addActionTxn(ops, room.short, userId, { stream: event.meta.stream, highlight: outcome.highlight, thread });
      const counter = counterOf(counters, changes, userId, thread);
      const next = { notifications: counter.notifications + 1, highlights: counter.highlights + (outcome.highlight ? 1 : 0) };
      this.store.setCounterTxn(ops, room.short, userId, thread, next);
      changes.push([userId, thread, next]);
    }
    // 3.
    if (leaving !== undefined && counters.has(leaving)) changes.push(...(await this.readTxn(ops, room.short, counters, leaving, event.meta.stream, undefined)));
    return changes.length === 0 ? undefined : () => applyChanges(counters, changes);
  }

  /**
   * The user read up to `upTo`: every thread (`thread` undefined) or one. Deletes the rows read and
   * lowers the counters by them, within `ops`; returns the counter changes to apply after the write.
   */
  private async readTxn(ops: BatchOp[], roomShort: number, counters: RoomUnreadCounters, userId: string, upTo: number, thread: string | undefined): Promise<CounterChange[]> {
    const threads = counters.get(userId);
    if (!threads || (thread !== undefined && !threads.has(thread))) return [];
    const lowered = new Map<string, UnreadCounter>();
    for (const row of await this.store.actionsUpTo(roomShort, userId, upTo)) {
      if (thread !== undefined && row.thread !== thread) continue;
      this.store.deleteActionTxn(ops, roomShort, userId, row.stream);
      let c = lowered.get(row.thread);
      if (!c) lowered.set(row.thread, (c = { ...(threads.get(row.thread) ?? { notifications: 0, highlights: 0 }) }));
      c.notifications = Math.max(0, c.notifications - 1);
      if (row.highlight) c.highlights = Math.max(0, c.highlights - 1);
    }
    const changes: CounterChange[] = [];
    for (const [t, c] of lowered) {
      this.store.setCounterTxn(ops, roomShort, userId, t, c);
      changes.push([userId, t, c]);
    }
    return changes;
  }

  /** A room's counters for a reader: the cached copy, or loaded under the room lock. */
  private async roomCounters(roomId: string): Promise<RoomUnreadCounters | undefined> {
    const room = this.deps.engine.room(roomId);
    if (!room) return undefined;
    return this.counters.get(room.short) ?? this.deps.engine.runInRoom(roomId, () => this.loadCounters(room.short));
  }

  /** The counters of a room; the caller holds the room lock. */
  private async loadCounters(roomShort: number): Promise<RoomUnreadCounters> {
    let counters = this.counters.get(roomShort);
    if (!counters) {
      counters = await this.store.loadRoom(roomShort);
      this.counters.set(roomShort, counters);
    }
    return counters;
  }

  /** The user's ruleset, compiled once until they change it. */
  private rulesetOf(userId: string): Promise<CompiledPushRules> {
    let ruleset = this.rulesets.get(userId);
    if (!ruleset) {
      ruleset = this.deps.pushRulesFor(userId).then((r) => new CompiledPushRules(r.global));
      this.rulesets.set(userId, ruleset);
      ruleset.catch(() => this.rulesets.delete(userId));
    }
    return ruleset;
  }

  /** The state before an event and who of ours is joined in it, cached by snapshot. */
  private async factsBefore(room: RoomRecord, event: StoredEvent, given: StoredStateMap | undefined): Promise<SnapshotFacts> {
    const snapshot = event.meta.stateBefore;
    const cached = this.facts.get(snapshot);
    if (cached) return cached;
    const state = given ?? (await this.deps.engine.loadSnapshot(snapshot));
    const localJoined: string[] = [];
    for (const [key, member] of state) {
      const [type, userId] = splitStateKey(key);
      if (type === 'm.room.member' && member.pdu.content.membership === 'join' && userId.endsWith(this.localSuffix)) localJoined.push(userId);
    }
    const facts: SnapshotFacts = { state, localJoined, bySender: new Map() };
    this.facts.set(snapshot, facts);
    return facts;
  }

  // ---------------------------------------------------------------- rebuild (storage version 3 -> 4)

  /**
   * Fills the counts of a store that has events from before version 4 (the migration's mark): for
   * each room, each local member's rows from their read position on, as if each event had been
   * counted when it was persisted. Runs at start, room by room under the room lock; a rebuild cut
   * short starts again at the next start (each room's old rows are dropped first).
   */
  private async rebuildPending(): Promise<void> {
    if (!(await this.deps.db.getMeta<boolean>(UNREAD_COUNTS_REBUILD))) return;
    const rooms = [...this.deps.engine.allRooms()];
    const started = Date.now();
    let reported = started;
    this.deps.log?.info({ rooms: rooms.length }, 'counting unread notifications of the stored history (once, after the upgrade to storage version 4)');
    for (const [done, room] of rooms.entries()) {
      if (Date.now() - reported >= REBUILD_PROGRESS_MS) {
        reported = Date.now();
        this.deps.log?.info({ rooms: rooms.length, done }, 'counting unread notifications: still going');
      }
      if (!this.deps.engine.headOf(room.roomId)?.extremities.length) continue;
      await this.deps.engine.runInRoom(room.roomId, () => this.rebuildRoom(room));
    }
    await this.deps.db.write([this.deps.db.del('meta', Buffer.from(UNREAD_COUNTS_REBUILD))]);
    this.deps.log?.info({ rooms: rooms.length, ms: Date.now() - started }, 'unread notifications counted');
  }

  private async rebuildRoom(room: RoomRecord): Promise<void> {
    const { engine, db } = this.deps;
    // Each local member's read positions: their join, their unthreaded receipts (every thread), their threaded ones.
    const readers = new Map<string, { readUpTo: number; threads: Map<string, number>; rows: PushActionRow[] }>();
    for (const [key, member] of await engine.currentState(room.roomId)) {
      const [type, userId] = splitStateKey(key);
      if (type !== 'm.room.member' || member.pdu.content.membership !== 'join' || !userId.endsWith(this.localSuffix)) continue;
      const reader = { readUpTo: member.meta.stream, threads: new Map<string, number>(), rows: [] as PushActionRow[] };
      for (const receipt of await this.deps.readReceipts(userId, room.roomId)) {
        const read = await engine.getEvent(receipt.eventId);
        if (!read || read.room_id !== room.roomId) continue;
        if (receipt.threadId === '') reader.readUpTo = Math.max(reader.readUpTo, read.meta.stream);
        else reader.threads.set(receipt.threadId, Math.max(reader.threads.get(receipt.threadId) ?? 0, read.meta.stream));
      }
      readers.set(userId, reader);
    }
    let ops: BatchOp[] = [];
    // What an earlier, interrupted rebuild wrote (its rows go in batches before their counters).
    await this.store.clearRoomTxn(ops, room.short);
    if (readers.size > 0) {
      let from = Math.min(...[...readers.values()].map((r) => r.readUpTo));
      for (;;) {
        const entries = await engine.timeline(room.short, { from, dir: 'f', limit: REBUILD_PAGE });
        for (const entry of entries) {
          from = entry.stream;
          const event = await engine.eventByShort(entry.eventShort);
          if (event) await this.replay(room, event, readers);
        }
        if (entries.length < REBUILD_PAGE) break;
      }
    }
    for (const [userId, reader] of readers) {
      const counters = new Map<string, UnreadCounter>();
      for (const row of reader.rows) {
        this.store.addActionTxn(ops, room.short, userId, row);
        const c = counters.get(row.thread) ?? { notifications: 0, highlights: 0 };
        counters.set(row.thread, { notifications: c.notifications + 1, highlights: c.highlights + (row.highlight ? 1 : 0) });
        if (ops.length >= REBUILD_BATCH_OPS) {
          await db.write(ops);
          ops = [];
        }
      }
      for (const [thread, c] of counters) this.store.setCounterTxn(ops, room.short, userId, thread, c);
    }
    await db.write(ops);
    this.counters.delete(room.short);
  }

  /** One stored event, for the rebuild: what {@link eventTxn} would have done, on the readers' lists. */
  private async replay(room: RoomRecord, event: StoredEvent, readers: Map<string, { readUpTo: number; threads: Map<string, number>; rows: PushActionRow[] }>): Promise<void> {
    const { pdu } = event;
    const thread = await this.threadOf(event);
    const own = readers.get(pdu.sender);
    if (own) {
      own.threads.set(thread, Math.max(own.threads.get(thread) ?? 0, event.meta.stream));
      own.rows = own.rows.filter((r) => r.thread !== thread);
    }
    let facts: SnapshotFacts | undefined;
    let shape: JsonObject | undefined;
    for (const [userId, reader] of readers) {
      if (userId === pdu.sender || event.meta.stream <= Math.max(reader.readUpTo, reader.threads.get(thread) ?? 0)) continue;
      facts ??= await this.factsBefore(room, event, undefined);
      if (!isJoinedIn(facts.state, userId) || (await this.deps.ignoredUsersOf?.(userId))?.has(pdu.sender)) continue;
      const outcome = (await this.rulesetOf(userId)).evaluate((shape ??= clientShape(event)), contextFor(roomFacts(facts, room, this.deps.engine, pdu.sender), userId));
      if (outcome.notify) reader.rows.push({ stream: event.meta.stream, highlight: outcome.highlight, thread });
    }
  }
}

/** The facts of a snapshot for one sender (their power level), computed once per sender. */
function roomFacts(facts: SnapshotFacts, room: RoomRecord, engine: RoomEngine, sender: string): RoomPushFacts {
  let f = facts.bySender.get(sender);
  if (!f) {
    f = roomPushFacts(facts.state, engine.rulesOf(room), sender);
    facts.bySender.set(sender, f);
  }
  return f;
}

/** The counter as `changes` (not written yet) or the room's counters have it. */
function counterOf(counters: RoomUnreadCounters, changes: readonly CounterChange[], userId: string, thread: string): UnreadCounter {
  for (let i = changes.length - 1; i >= 0; i--) {
    const [u, t, c] = changes[i]!;
    if (u === userId && t === thread) return c;
  }
  return counters.get(userId)?.get(thread) ?? { notifications: 0, highlights: 0 };
}

function applyChanges(counters: RoomUnreadCounters, changes: readonly CounterChange[]): void {
  for (const [userId, thread, counter] of changes) {
    let threads = counters.get(userId);
    if (counter.notifications === 0 && counter.highlights === 0) {
      threads?.delete(thread);
      if (threads?.size === 0) counters.delete(userId);
      continue;
    }
    if (!threads) counters.set(userId, (threads = new Map()));
    threads.set(thread, counter);
  }
}

function asJson(c: UnreadCounter | undefined): UnreadCounts {
  return { notification_count: c?.notifications ?? 0, highlight_count: c?.highlights ?? 0 };
}

/** The event as push rules see it: the client format's top-level keys (modules/push.md examples). */
export function clientShape(event: StoredEvent): JsonObject {
  const { pdu } = event;
  const shape: JsonObject = { event_id: event.event_id, room_id: event.room_id, type: pdu.type, sender: pdu.sender, content: pdu.content };
  if (pdu.state_key !== undefined) shape.state_key = pdu.state_key;
  return shape;
}
