/**
 * The notifications a user was sent (client-server "Listing Notifications", GET /notifications):
 * events of the user's rooms whose push rules said `notify`, newest first, each with the actions,
 * whether it has been read, and the event. Nothing is stored per notification (SD-card wear): a
 * request walks the stream backwards, as `/search` does, and evaluates the rules against the state
 * before each event; one request examines at most {@link MAX_EXAMINED} events of the user's rooms.
 */
import type { Json, JsonObject } from '../core/types.js';
import type { PushRuleset } from '../accounts/push-rules-defaults.js';
import type { RoomEngine, StoredEvent } from '../rooms/engine.js';
import { CompiledPushRules } from './evaluator.js';
import { clientShape, type NotificationCounts } from './notification-counts.js';
import { contextFor, isJoinedIn, roomPushFacts } from './room-facts.js';
import { StateBeforeCache } from './state-before-cache.js';
import { BackwardStreamWalk } from '../rooms/stream-walk.js';

export interface NotificationListDeps {
  engine: RoomEngine;
  /** `read`: whether the user's unread counts still hold the event (the same rows `/sync` counts). */
  counts: Pick<NotificationCounts, 'isRead'>;
  pushRulesFor(userId: string): Promise<{ global: PushRuleset }>;
  ignoredUsersOf?(userId: string): Promise<ReadonlySet<string>>;
  /** The event as the user's clients see it. */
  format(event: StoredEvent, userId: string): Promise<JsonObject>;
}

/** Events of the user's rooms examined per request (BackwardStreamWalk). */
const MAX_EXAMINED = 5000;

export interface NotificationPage {
  notifications: JsonObject[];
  /** Stream position to continue below, when more may exist. */
  next?: number;
}

export class NotificationList {
  private readonly states: StateBeforeCache;

  constructor(private readonly deps: NotificationListDeps) {
    this.states = new StateBeforeCache(deps.engine, 16);
  }

  async list(userId: string, opts: { before?: number; limit: number; onlyHighlight: boolean }): Promise<NotificationPage> {
    const { engine } = this.deps;
    const rooms = new Set<number>();
    for (const m of await engine.roomsOf(userId)) {
      const room = engine.room(m.roomId);
      // Rooms left still hold notifications from before the leave; the join check below decides.
      if (room) rooms.add(room.short);
    }
    const rules = new CompiledPushRules((await this.deps.pushRulesFor(userId)).global);
    const ignored = await this.deps.ignoredUsersOf?.(userId);
    const out: JsonObject[] = [];
    if (rooms.size === 0) return { notifications: out };
    const walk = new BackwardStreamWalk(engine, opts.before ?? engine.notifier.position + 1, (short) => rooms.has(short), MAX_EXAMINED);
    for await (const event of walk.events()) {
      if (event.pdu.sender === userId || ignored?.has(event.pdu.sender)) continue;
      const room = engine.room(event.room_id);
      if (!room) continue;
      const facts = roomPushFacts(await this.states.of(event), engine.rulesOf(room), event.pdu.sender);
      if (!isJoinedIn(facts.state, userId)) continue;
      const outcome = rules.evaluate(clientShape(event), contextFor(facts, userId));
      if (!outcome.notify || (opts.onlyHighlight && !outcome.highlight)) continue;
      out.push({
        actions: ['notify', ...Object.entries(outcome.tweaks).map(([k, v]) => ({ set_tweak: k, value: v as Json }))],
        event: await this.deps.format(event, userId),
        read: this.deps.counts.isRead(userId, event.room_id, event.meta.stream),
        room_id: event.room_id,
        ts: event.pdu.origin_server_ts,
      });
      // Continue below the last one returned.
      if (out.length >= opts.limit) return { notifications: out, next: event.meta.stream };
    }
    return { notifications: out, ...(walk.resumeBefore !== undefined ? { next: walk.resumeBefore } : {}) };
  }
}
