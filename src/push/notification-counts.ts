/**
 * Unread notification counts (client-server-api "Syncing": `unread_notifications` of a joined room;
 * modules/push.md "Receiving notifications"): per user and room, the events since the user last
 * read the room that their push rules make notify, and how many of those highlight.
 *
 * Read means: the user's newest `m.read`/`m.read.private` receipt, or the user's own newest event,
 * whichever is later (Synapse treats sending as reading too). Counts are kept per thread
 * ("Threaded read receipts", "Receiving notifications"): each notifying event belongs to a thread
 * (`main` or a thread root, relations.ts `threadIdOf`); an unthreaded receipt reads every thread up
 * to its event, a threaded one (`main` or a root) only that thread, and the user's own event only
 * its own thread. `/sync` reports the total, or with `unread_thread_notifications` the main
 * timeline's counts and each thread's apart.
 *
 * Nothing is written to the database (SD-card wear): the counts live in memory, built lazily. The
 * first time a (user, room) pair is asked for, its state is recomputed from the timeline after the
 * read position, scanning at most {@link MAX_SCANNED_EVENTS} events; from then on each persisted
 * event updates it. Pairs nobody asked for cost nothing. See docs/notifications.md.
 */
import type { JsonObject } from '../core/types.js';
import type { PushRuleset } from '../accounts/push-rules-defaults.js';
import type { RoomEngine, StoredEvent } from '../rooms/engine.js';
import { TimelineReader } from '../rooms/timeline.js';
import { StateBeforeCache } from './state-before-cache.js';
import { evaluatePushRules } from './evaluator.js';
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
  /** The user's whole ruleset, server defaults included (PushRulesService.pushRulesFor). */
  pushRulesFor(userId: string): Promise<{ global: PushRuleset }>;
  /** The user's read receipts in the room (both receipt types, every thread). */
  readReceipts(userId: string, roomId: string): Promise<ReadReceipt[]>;
  /** Whom the user ignores: their events never count ("Ignoring Users"). */
  ignoredUsersOf?(userId: string): Promise<ReadonlySet<string>>;
  /** Where errors of the background updates go. */
  onError?(err: unknown): void;
}

/** Events examined when a count is rebuilt from the timeline (after a restart). */
const MAX_SCANNED_EVENTS = 500;
/** Unread notifying events remembered per user and room; older ones are forgotten. */
const MAX_COUNTED_EVENTS = 500;
/** Room states (by snapshot) kept for evaluating consecutive events without reloading. */
const STATE_CACHE_SIZE = 16;

/** One user's unread notifying events in one room. */
interface UnreadState {
  /** The user has read every thread up to this stream position. */
  readUpTo: number;
  /** Per thread (`main` or a root id): read up to this position by a threaded receipt or an own event. */
  threadReadUpTo: Map<string, number>;
  /** Events up to this stream position have been considered. */
  seenUpTo: number;
  /** Unread notifying events, oldest first, with their thread. */
  notifying: { stream: number; highlight: boolean; thread: string }[];
}

export class NotificationCounts {
  /** room id -> user id -> unread state, for the pairs someone asked about. */
  private readonly rooms = new Map<string, Map<string, UnreadState>>();
  /** Per-room work queue: updates, reads and rebuilds of one room run one at a time, in order. */
  private readonly queues = new Map<string, Promise<unknown>>();
  private readonly states: StateBeforeCache;
  private readonly timeline: TimelineReader;
  private unsubscribe: (() => void) | undefined;

  constructor(private readonly deps: NotificationCountsDeps) {
    this.timeline = new TimelineReader(deps.engine);
    this.states = new StateBeforeCache(deps.engine, STATE_CACHE_SIZE);
  }

  /** Starts following persisted events. */
  start(): void {
    this.unsubscribe ??= this.deps.engine.onEvent((event) => {
      this.inRoomQueue(event.room_id, () => this.applyEvent(event)).catch((err: unknown) => this.deps.onError?.(err));
    });
  }

  stop(): void {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
  }

  /** The `unread_notifications` of a joined room (every thread), including every event persisted so far. */
  unreadCounts(userId: string, roomId: string): Promise<UnreadCounts> {
    return this.inRoomQueue(roomId, async () => countsOf((await this.unreadState(userId, roomId)).notifying));
  }

  /** `unread_notifications` of the main timeline and `unread_thread_notifications` (threads with unread ones). */
  threadedUnreadCounts(userId: string, roomId: string): Promise<ThreadedUnreadCounts> {
    return this.inRoomQueue(roomId, async () => {
      const { notifying } = await this.unreadState(userId, roomId);
      const byThread = new Map<string, UnreadState['notifying']>();
      for (const n of notifying) {
        let list = byThread.get(n.thread);
        if (!list) byThread.set(n.thread, (list = []));
        list.push(n);
      }
      const threads: Record<string, UnreadCounts> = {};
      for (const [thread, list] of byThread) if (thread !== MAIN_THREAD) threads[thread] = countsOf(list);
      return { main: countsOf(byThread.get(MAIN_THREAD) ?? []), threads };
    });
  }

  /** Whether the user has read the event at `stream` in thread `thread` (for /notifications). */
  isRead(userId: string, roomId: string, stream: number, thread: string): Promise<boolean> {
    return this.inRoomQueue(roomId, async () => {
      const unread = await this.unreadState(userId, roomId);
      return stream <= Math.max(unread.readUpTo, unread.threadReadUpTo.get(thread) ?? -Infinity);
    });
  }

  /**
   * The user read the room up to `eventId` (a read receipt; `threadId` '' unthreaded, `main` or a
   * root). Call it before the receipt is stored, so a sync the receipt wakes already sees the new counts.
   */
  async markRead(userId: string, roomId: string, eventId: string, threadId = ''): Promise<void> {
    const event = await this.deps.engine.getEvent(eventId);
    if (!event || event.room_id !== roomId) return;
    await this.inRoomQueue(roomId, async () => markReadUpTo(await this.unreadState(userId, roomId), event.meta.stream, threadId));
  }

  /**
   * One persisted event:
   * 1. a member leaving (or banned, ...) drops their counts;
   * 2. the sender's own event marks the room read for them;
   * 3. for every other user with counts here, joined before the event and not yet past it:
   *    evaluate their push rules against the state before the event; count it if it notifies.
   */
  private async applyEvent(event: StoredEvent): Promise<void> {
    const users = this.rooms.get(event.room_id);
    if (!users) return;
    const { pdu } = event;
    // 1.
    if (pdu.type === 'm.room.member' && pdu.state_key !== undefined && pdu.content.membership !== 'join') {
      users.delete(pdu.state_key);
      if (users.size === 0) this.rooms.delete(event.room_id);
    }
    // 2.
    const thread = await this.threadOf(event);
    const own = users.get(pdu.sender);
    if (own) markReadUpTo(own, event.meta.stream, thread);
    // 3.
    const recipients = [...users].filter(([userId, unread]) => userId !== pdu.sender && event.meta.stream > unread.seenUpTo);
    if (recipients.length === 0) return;
    const facts = await this.factsBefore(event);
    for (const [userId, unread] of recipients) {
      unread.seenUpTo = event.meta.stream;
      if (!isJoinedIn(facts.state, userId)) continue;
      if ((await this.deps.ignoredUsersOf?.(userId))?.has(pdu.sender)) continue;
      const ruleset = (await this.deps.pushRulesFor(userId)).global;
      count(unread, event, thread, facts, ruleset, userId);
    }
  }

  /**
   * The user's unread state in a room, rebuilt on first use:
   * 1. the read position is the later of their join and their newest unthreaded read receipt's
   *    event; threaded receipts set their thread's read position;
   * 2. the newest {@link MAX_SCANNED_EVENTS} events after it are read backwards; the user's own
   *    newest event in a thread moves that thread's read position up to it;
   * 3. the remaining events are evaluated oldest first, each against the state before it; those
   *    their thread has read are skipped.
   */
  private async unreadState(userId: string, roomId: string): Promise<UnreadState> {
    const existing = this.rooms.get(roomId)?.get(userId);
    if (existing) return existing;
    const { engine } = this.deps;
    const position = engine.notifier.position;
    // 1.
    const membership = await engine.membershipEntry(userId, roomId);
    let readUpTo = membership?.membership === 'join' ? membership.stream : position;
    const threadReadUpTo = new Map<string, number>();
    for (const receipt of await this.deps.readReceipts(userId, roomId)) {
      const read = await engine.getEvent(receipt.eventId);
      if (!read || read.room_id !== roomId) continue;
      if (receipt.threadId === '') readUpTo = Math.max(readUpTo, read.meta.stream);
      else threadReadUpTo.set(receipt.threadId, Math.max(threadReadUpTo.get(receipt.threadId) ?? -Infinity, read.meta.stream));
    }
    // 2.
    const unread: UnreadState = { readUpTo, threadReadUpTo, seenUpTo: position, notifying: [] };
    const page = await this.timeline.page(roomId, { from: position, dir: 'b', limit: MAX_SCANNED_EVENTS, to: readUpTo });
    const threads = new Map<StoredEvent, string>();
    for (const event of page.events) {
      const thread = await this.threadOf(event);
      threads.set(event, thread);
      if (event.pdu.sender === userId && (threadReadUpTo.get(thread) ?? -Infinity) < event.meta.stream) threadReadUpTo.set(thread, event.meta.stream);
    }
    // 3.
    const toEvaluate = page.events.filter((e) => e.pdu.sender !== userId && (threadReadUpTo.get(threads.get(e)!) ?? -Infinity) < e.meta.stream).reverse();
    if (toEvaluate.length > 0) {
      const ruleset = (await this.deps.pushRulesFor(userId)).global;
      const ignored = await this.deps.ignoredUsersOf?.(userId);
      for (const event of toEvaluate) {
        if (ignored?.has(event.pdu.sender)) continue;
        const facts = await this.factsBefore(event);
        if (isJoinedIn(facts.state, userId)) count(unread, event, threads.get(event)!, facts, ruleset, userId);
      }
    }
    let users = this.rooms.get(roomId);
    if (!users) this.rooms.set(roomId, (users = new Map()));
    users.set(userId, unread);
    return unread;
  }

  threadOf(event: StoredEvent): Promise<string> {
    return threadIdOf(event, (id) => this.deps.engine.getEvent(id));
  }

  /** The push facts of the room before an event; the state is cached by snapshot, as consecutive messages share one. */
  private async factsBefore(event: StoredEvent): Promise<RoomPushFacts> {
    const state = await this.states.of(event);
    const room = this.deps.engine.requireRoom(event.room_id);
    return roomPushFacts(state, this.deps.engine.rulesOf(room), event.pdu.sender);
  }

  private inRoomQueue<T>(roomId: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.queues.get(roomId) ?? Promise.resolve();
    const run = previous.then(fn, fn);
    const tail = run.catch(() => undefined);
    this.queues.set(roomId, tail);
    void tail.then(() => {
      if (this.queues.get(roomId) === tail) this.queues.delete(roomId);
    });
    return run;
  }
}

/** Evaluates one event for one user and remembers it when it notifies. */
function count(unread: UnreadState, event: StoredEvent, thread: string, facts: RoomPushFacts, ruleset: PushRuleset, userId: string): void {
  const outcome = evaluatePushRules(ruleset, clientShape(event), contextFor(facts, userId));
  if (!outcome.notify) return;
  unread.notifying.push({ stream: event.meta.stream, highlight: outcome.highlight, thread });
  if (unread.notifying.length > MAX_COUNTED_EVENTS) unread.notifying.shift();
}

/** A read up to `stream`: of every thread (`thread` ''), or of one thread (`main` or a root). */
function markReadUpTo(unread: UnreadState, stream: number, thread: string): void {
  if (thread === '') {
    if (stream <= unread.readUpTo) return;
    unread.readUpTo = stream;
    unread.seenUpTo = Math.max(unread.seenUpTo, stream);
    unread.notifying = unread.notifying.filter((n) => n.stream > stream);
    return;
  }
  if (stream <= (unread.threadReadUpTo.get(thread) ?? -Infinity)) return;
  unread.threadReadUpTo.set(thread, stream);
  unread.notifying = unread.notifying.filter((n) => n.thread !== thread || n.stream > stream);
}

function countsOf(list: readonly { highlight: boolean }[]): UnreadCounts {
  return { notification_count: list.length, highlight_count: list.filter((n) => n.highlight).length };
}

/** The event as push rules see it: the client format's top-level keys (modules/push.md examples). */
export function clientShape(event: StoredEvent): JsonObject {
  const { pdu } = event;
  const shape: JsonObject = { event_id: event.event_id, room_id: event.room_id, type: pdu.type, sender: pdu.sender, content: pdu.content };
  if (pdu.state_key !== undefined) shape.state_key = pdu.state_key;
  return shape;
}
