/**
 * Pushers (client-server "Push Notifications", push gateway API): the phones' registrations and
 * the delivery of their notifications to push gateways.
 *
 * Each pusher walks the global stream on its own with a stream cursor (stream/stream-cursor.ts),
 * from `pushedUpTo` on: every room event of a room its user is joined in, sent by someone else,
 * goes through the user's push rules against the state before it; an event that notifies is POSTed
 * to the gateway, in stream order. A failure (gateway down, uplink gone, timeout, non-2xx) stops
 * the walk at that event and the cursor retries it with a growing backoff, so nothing is skipped
 * and nothing overtakes; `pushedUpTo` is persisted after each delivery, so a restart resumes where
 * delivery stopped (a crash between the POST and the write repeats one push, which gateways drop by
 * event id). Notifications older than a day are passed over: after a long outage, yesterday's
 * doorbell is noise.
 */
import type { Logger } from 'pino';
import type { JsonObject } from '../core/types.js';
import type { PushRuleset } from '../accounts/push-rules-defaults.js';
import type { RoomEngine, StoredEvent, StreamEntry } from '../rooms/engine.js';
import { StreamCursor, type CursorProgress } from '../stream/stream-cursor.js';
import type { PusherRecord, PusherStore } from '../storage/pushers.js';
import { StateBeforeCache } from './state-before-cache.js';
import { getMembership, memberKey } from '../state/room-state.js';
import { compositeKey, stateKey } from '../core/types.js';
import { evaluatePushRules } from './evaluator.js';
import { clientShape } from './notification-counts.js';
import { contextFor, isJoinedIn, roomPushFacts } from './room-facts.js';
import { badgeBody, notificationBody, rejectedPushkeys } from './notification-payload.js';

export type { PusherRecord };

/** What POST /pushers/set asks for (validated by the route). */
export interface PusherRequest {
  appId: string;
  pushkey: string;
  /** null deletes the pusher. */
  kind: 'http' | null;
  appDisplayName?: string;
  deviceDisplayName?: string;
  profileTag?: string;
  lang?: string;
  data?: JsonObject;
  append?: boolean;
}

/** Sends one notification; resolves with the gateway's JSON answer, rejects on any failure. */
export type PushPoster = (url: string, body: JsonObject) => Promise<unknown>;

export interface PusherServiceDeps {
  store: PusherStore;
  engine: RoomEngine;
  pushRulesFor(userId: string): Promise<{ global: PushRuleset }>;
  /** The user's badge: how many of their rooms have unread notifications. */
  unreadRooms(userId: string): Promise<number>;
  /** Whom the user ignores: their events never push ("Ignoring Users"). */
  ignoredUsersOf?(userId: string): Promise<ReadonlySet<string>>;
  log: Logger;
  post?: PushPoster;
  now?: () => number;
}

/** Push gateway requests time out after this (a flaky uplink must not stall the queue forever). */
const REQUEST_TIMEOUT_MS = 10_000;
/** Backoff after a failed delivery: doubling from the first to the last. */
const FIRST_RETRY_MS = 1_000;
const LAST_RETRY_MS = 5 * 60_000;
/** Events older than this when their turn comes are passed over. */
const MAX_NOTIFICATION_AGE_MS = 24 * 3600_000;
/** Stream entries read per step of a pusher's walk. */
const STREAM_BATCH = 100;
/** Persist a walk that only passed over events after this many positions (saves SD-card writes). */
const PERSIST_EVERY_POSITIONS = 1000;

export class PusherService {
  /** user id -> `app_id \0 pushkey` -> worker. */
  private readonly workers = new Map<string, Map<string, PusherWorker>>();
  private readonly states: StateBeforeCache;

  constructor(private readonly deps: PusherServiceDeps) {
    this.states = new StateBeforeCache(deps.engine, 16);
  }

  /** Loads the pushers; each follows the stream until {@link stop}. */
  async start(): Promise<void> {
    for (const record of await this.deps.store.all()) this.add(record);
  }

  async stop(): Promise<void> {
    const all = [...this.workers.values()].flatMap((m) => [...m.values()]);
    await Promise.all(all.map((w) => w.stop()));
  }

  list(userId: string): PusherRecord[] {
    return [...(this.workers.get(userId)?.values() ?? [])].map((w) => w.record);
  }

  /** POST /pushers/set: creates, updates or (kind null) deletes the user's pusher. */
  async set(userId: string, deviceId: string, req: PusherRequest): Promise<void> {
    if (req.kind === null) {
      await this.remove(userId, req.appId, req.pushkey);
      return;
    }
    // "Otherwise, the homeserver must remove any other pushers with the same App ID and pushkey for different users."
    if (!req.append) {
      for (const [otherUser, byKey] of this.workers) {
        if (otherUser !== userId && byKey.has(workerKey(req.appId, req.pushkey))) await this.remove(otherUser, req.appId, req.pushkey);
      }
    }
    // Replacing a pusher: its walk stops first (unlisted, so it saves nothing), the new one goes on from where it was.
    const byKey = this.workers.get(userId);
    const existing = byKey?.get(workerKey(req.appId, req.pushkey));
    if (existing) {
      byKey!.delete(workerKey(req.appId, req.pushkey));
      await existing.stop();
    }
    const record: PusherRecord = {
      userId,
      appId: req.appId,
      pushkey: req.pushkey,
      kind: 'http',
      appDisplayName: req.appDisplayName ?? '',
      deviceDisplayName: req.deviceDisplayName ?? '',
      ...(req.profileTag !== undefined ? { profileTag: req.profileTag } : {}),
      lang: req.lang ?? 'en',
      data: req.data ?? {},
      pushkeyTs: Math.floor(this.now() / 1000),
      deviceId,
      // A new pusher pushes what happens from now on, not the history.
      pushedUpTo: existing?.position ?? this.deps.engine.notifier.position,
    };
    await this.deps.store.put(record);
    this.add(record);
  }

  /** The user read a room (a receipt): their phones' badges are updated after any pending pushes. */
  onRead(userId: string): void {
    for (const worker of this.workers.get(userId)?.values() ?? []) worker.badge();
  }

  /** The current badge of a user. */
  unreadRooms(userId: string): Promise<number> {
    return this.deps.unreadRooms(userId);
  }

  /** A deleted device (or a logout) takes its pushers with it, as in Synapse. */
  async removeDevice(userId: string, deviceId: string): Promise<void> {
    for (const worker of this.list(userId).filter((p) => p.deviceId === deviceId)) await this.remove(userId, worker.appId, worker.pushkey);
  }

  private async remove(userId: string, appId: string, pushkey: string): Promise<void> {
    const byKey = this.workers.get(userId);
    const worker = byKey?.get(workerKey(appId, pushkey));
    if (!byKey || !worker) return;
    byKey.delete(workerKey(appId, pushkey));
    if (byKey.size === 0) this.workers.delete(userId);
    await worker.stop();
    await this.deps.store.delete({ userId, appId, pushkey });
  }

  private add(record: PusherRecord): void {
    let byKey = this.workers.get(record.userId);
    if (!byKey) this.workers.set(record.userId, (byKey = new Map()));
    const worker = new PusherWorker(record, this);
    byKey.set(workerKey(record.appId, record.pushkey), worker);
    void worker.start();
  }

  // ---- what workers need

  now(): number {
    return this.deps.now?.() ?? Date.now();
  }

  get engine(): RoomEngine {
    return this.deps.engine;
  }

  get log(): Logger {
    return this.deps.log;
  }

  persist(record: PusherRecord): Promise<void> {
    return this.deps.store.put(record);
  }

  /** The gateway said this pushkey is dead. */
  rejected(record: PusherRecord): Promise<void> {
    this.deps.log.info({ userId: record.userId, appId: record.appId }, 'push gateway rejected the pushkey; pusher removed');
    return this.remove(record.userId, record.appId, record.pushkey);
  }

  post(url: string, body: JsonObject): Promise<unknown> {
    return (this.deps.post ?? postJson)(url, body);
  }

  /**
   * The push body for `event` if it notifies `userId` (joined before it, not its sender, and their
   * push rules say notify), else undefined.
   */
  async notificationFor(userId: string, event: StoredEvent, record: PusherRecord): Promise<JsonObject | undefined> {
    if (event.pdu.sender === userId) return undefined;
    if ((await this.deps.ignoredUsersOf?.(userId))?.has(event.pdu.sender)) return undefined;
    const state = await this.states.of(event);
    const room = this.deps.engine.room(event.room_id);
    if (!room) return undefined;
    const facts = roomPushFacts(state, this.deps.engine.rulesOf(room), event.pdu.sender);
    if (!isJoinedIn(facts.state, userId)) return undefined;
    const ruleset = (await this.deps.pushRulesFor(userId)).global;
    const outcome = evaluatePushRules(ruleset, clientShape(event), contextFor(facts, userId));
    if (!outcome.notify) return undefined;
    const name = state.get(stateKey('m.room.name', ''))?.pdu.content.name;
    const alias = state.get(stateKey('m.room.canonical_alias', ''))?.pdu.content.alias;
    const senderName = getMembership(state, event.pdu.sender) === 'join' ? state.get(memberKey(event.pdu.sender))?.pdu.content.displayname : undefined;
    return notificationBody(
      {
        eventId: event.event_id,
        roomId: event.room_id,
        type: event.pdu.type,
        sender: event.pdu.sender,
        content: event.pdu.content,
        ...(event.pdu.state_key !== undefined ? { stateKey: event.pdu.state_key } : {}),
      },
      {
        userId,
        ...(typeof senderName === 'string' && senderName !== '' ? { senderDisplayName: senderName } : {}),
        ...(typeof name === 'string' && name !== '' ? { roomName: name } : {}),
        ...(typeof alias === 'string' ? { roomAlias: alias } : {}),
        unread: await this.deps.unreadRooms(userId),
        tweaks: outcome.tweaks,
      },
      record,
    );
  }

}

/** A push gateway did not take a notification (down, unreachable, timeout, non-2xx). */
class PushFailed extends Error {}

/** One pusher's walk along the stream: a stream cursor whose position is the record's `pushedUpTo`. */
class PusherWorker {
  private readonly cursor: StreamCursor<StreamEntry>;
  /** Set when the gateway rejected the pushkey (the pusher is being removed) or on stop. */
  private stopped = false;
  /** A badge update is due (sent after the event pushes before it). */
  private badgePending = false;

  constructor(
    readonly record: PusherRecord,
    private readonly service: PusherService,
  ) {
    const { engine, log } = service;
    this.cursor = new StreamCursor<StreamEntry>({
      position: { load: async () => record.pushedUpTo, save: (position) => this.save(position) },
      notifier: engine.notifier,
      read: (after, upTo, limit) => engine.streamRange(after, upTo, limit),
      process: (batch, progress) => this.deliverAll(batch, progress),
      // Not persisted: after a restart the next push carries the badge anyway.
      caughtUp: () => this.sendBadge(),
      onError: (err, retryInMs) => {
        const where = { userId: record.userId, appId: record.appId, retryInMs };
        if (err instanceof PushFailed) log.warn({ ...where, err: err.message }, 'push failed; will retry');
        else log.error({ ...where, err }, 'pusher failed; will retry');
      },
      batchSize: STREAM_BATCH,
      backoff: { firstMs: FIRST_RETRY_MS, maxMs: LAST_RETRY_MS },
      persistEvery: PERSIST_EVERY_POSITIONS,
    });
  }

  start(): Promise<void> {
    return this.cursor.start();
  }

  /** Every event up to here has been pushed or passed over (saved or not yet). */
  get position(): number {
    return this.cursor.position;
  }

  badge(): void {
    this.badgePending = true;
    this.cursor.wake();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.cursor.stop();
  }

  private async deliverAll(batch: readonly StreamEntry[], progress: CursorProgress): Promise<void> {
    for (const entry of batch) {
      if (this.stopped || progress.stopping) return;
      const sent = await this.deliver(entry.eventShort);
      // A push that went out is saved at once: a restart must not send it again.
      await progress.reached(entry.stream, { durable: sent });
    }
  }

  private async sendBadge(): Promise<void> {
    if (!this.badgePending || this.stopped) return;
    this.badgePending = false;
    try {
      await this.post(badgeBody(await this.service.unreadRooms(this.record.userId), this.record));
    } catch (err) {
      this.badgePending = true;
      throw err;
    }
  }

  /** POSTs to the gateway; throws PushFailed on failure. A rejected pushkey removes the pusher. */
  private async post(body: JsonObject): Promise<void> {
    const { record } = this;
    let answer: unknown;
    try {
      answer = await this.service.post(record.data.url as string, body);
    } catch (err) {
      throw new PushFailed((err as Error).message);
    }
    if (rejectedPushkeys(answer).includes(record.pushkey)) {
      this.stopped = true;
      void this.service.rejected(record);
    }
  }

  /** True after a push; false when the event is not for this pusher. Throws when delivery failed. */
  private async deliver(eventShort: number): Promise<boolean> {
    const { engine } = this.service;
    const { record } = this;
    const event = await engine.eventByShort(eventShort);
    if (!event) return false;
    // Rooms the user never had a membership in cost one point read.
    if (!(await engine.membershipEntry(record.userId, event.room_id))) return false;
    if (this.service.now() - event.pdu.origin_server_ts > MAX_NOTIFICATION_AGE_MS) return false;
    const body = await this.service.notificationFor(record.userId, event, record);
    if (!body) return false;
    await this.post(body);
    return true;
  }

  /** Persists the walk's position, unless the pusher was removed or replaced meanwhile. */
  private async save(position: number): Promise<void> {
    this.record.pushedUpTo = position;
    if (!this.service.list(this.record.userId).includes(this.record)) return;
    await this.service.persist(this.record);
  }
}

function workerKey(appId: string, pushkey: string): string {
  return compositeKey(appId, pushkey);
}

/** POSTs JSON to a push gateway; anything but a 2xx answer is a failure. */
async function postJson(url: string, body: JsonObject): Promise<unknown> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`push gateway answered HTTP ${res.status}`);
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return {};
  }
}
