/**
 * The room engine: the only writer of room events. It builds, authorises, signs, persists and fans
 * out every event - for the client API, the MQTT bridge and (later) federation alike.
 *
 * Per event (the persistence pipeline, in order):
 *  1. take the room's lock (events of one room are created one at a time; rooms run in parallel);
 *  2. build the PDU template: prev_events = forward extremities, depth, auth_events selected from
 *     the current state (server-server "Auth events selection");
 *  3. finalise: content hash, signature, event id (core/event-builder);
 *  4. check size (client-server "Size limits": 65536 bytes) and the auth rules against the current
 *     state (rooms/v11 "Authorization rules"), plus the redaction sender check;
 *  5. write one atomic batch: event JSON, meta, id index, timeline, stream entry, state snapshot,
 *     room head, membership index, transaction id, relations index (and the parent's `related` mark),
 *     and what the batch hooks add (unread counts);
 *  6. settle the stream position (wakes /sync) and tell listeners (bridge commands, profile, ...).
 */
import type { Logger } from 'pino';
import type { JsonObject, Pdu, RoomEvent, RoomVersionId, SigningKey } from '../core/types.js';
import { splitStateKey, stateKey, type StateEventMap, type StateIdMap, type StateKey } from '../core/types.js';
import { finalizePdu, type PduTemplate } from '../core/event-builder.js';
import { canonicalJson } from '../core/canonical-json.js';
import { prevEventIds } from '../core/event-references.js';
import { getRoomVersionRules, type RoomVersionRules } from '../core/room-versions.js';
import { eventIdentifiersRefusal } from '../core/identifiers.js';
import { jsonValueRefusal } from '../core/json-text.js';
import { wellKnownContentRefusal } from '../core/event-content.js';
import { txnEndpoint } from '../storage/rooms.js';
import { toRoomEvent } from '../core/room-event.js';
import { withEventReferences } from './event-references.js';
import { checkEventAuth } from '../state/auth-rules.js';
import { selectAuthEvents } from '../state/auth-events.js';
import { canUserDo, getUserPowerLevel } from '../state/power-levels.js';
import { redactedEventId, redactionApplies } from '../state/redaction-rules.js';
import { getMembership } from '../state/room-state.js';
import type { BatchOp, Database } from '../storage/db.js';
import { EventStore, type EventMeta, type StoredEvent, type TimelineEntry } from '../storage/events.js';
import { StateSnapshotStore } from '../storage/state-snapshots.js';
import { RelationStore, type RelationEntry, type ThreadEntry } from '../storage/relations.js';
import { WaitingRedactionStore } from '../storage/waiting-redactions.js';
import { REL_ANNOTATION, REL_THREAD, relationOf, relationRefusal, type Relation } from '../core/relations.js';
import { RoomStore, type Membership, type RoomHead, type RoomRecord, type UserRoomEntry } from '../storage/rooms.js';
import { LruCache } from '../storage/lru.js';
import { KeyedLock } from '../util/keyed-lock.js';
import { ErrCode, MatrixError, forbidden, notFound } from '../core/errors.js';
import type { StreamNotifier } from '../stream/notifier.js';

/** What a caller asks the engine to send. */
export interface EventDraft {
  type: string;
  sender: string;
  content: JsonObject;
  state_key?: string;
  /** For m.room.redaction: the event to redact (placed per room version). */
  redacts?: string;
}

export interface SendOptions {
  /** Client transaction id: makes PUT /send idempotent and is echoed to the sending device. */
  txn?: { deviceId: string; txnId: string };
  /** Server-side timestamp override (bridged readings carry their own time). */
  originServerTs?: number;
  /**
   * For an invite of another server's user: that server signs the event before it is persisted
   * (server-server "Inviting to a room"); what it returns (our event with its signature added)
   * is what is stored. A refusal throws and nothing is stored.
   */
  countersign?: (event: RoomEvent, version: RoomVersionId) => Promise<Pdu>;
  /**
   * A last check of a client's event once the auth rules allowed it, against the state it replaces
   * (under the room lock): a refusal throws and nothing is stored. Synapse checks a canonical
   * alias at this point, so a sender without the power level hears 403, not the alias' fault.
   */
  vet?: (event: RoomEvent, state: StoredStateMap) => Promise<void>;
}

export interface SentEvent {
  eventId: string;
  stream: number;
}

/** What else an event's batch changes besides the event and its indexes. */
export interface PersistLinks {
  txn?: EventMeta['txn'];
  /** The event a redaction redacts. */
  redactTarget?: StoredEvent;
  /** The parent of a child event (client-server "Forming relationships between events"). */
  relation?: { parent: StoredEvent; relation: Relation };
  /** A received redaction whose target we do not have yet: it waits for it (rooms/v3 "Handling redactions"). */
  awaitedTarget?: string;
}

/** A state map whose events carry their stored metadata. */
export type StoredStateMap = Map<StateKey, StoredEvent>;

/** How an event ended up after the checks on receipt (server-server "Checks performed on receipt of a PDU"). */
export type EventStatus = 'accepted' | 'soft_failed' | 'outlier' | 'rejected';

/**
 * A room state handed to `persistEvent`: a stored snapshot (with its events, when the caller has
 * them at hand, so the state cache is refreshed without a reload), or a map of event ids the
 * caller resolved (state resolution over a remote fork) that is stored as a delta snapshot.
 */
export type StateInput = { snapshot: number; state?: StoredStateMap } | { ids: StateIdMap };

/** What the caller of `persistEvent` established about an event. */
export interface PersistRequest {
  room: RoomRecord;
  event: RoomEvent;
  status: EventStatus;
  /** The state before the event (the resolution of the states after its prev_events); not for outliers. */
  stateBefore?: StateInput;
  /**
   * The room's resolved current state once the event is in: 'after' when the event succeeds every
   * forward extremity (the state after it is current: local sends, remote events without a fork),
   * 'unchanged', or the resolution of the new extremities' states. Accepted events only.
   */
  currentState?: 'after' | 'unchanged' | { ids: StateIdMap };
  /** Forward extremities removed and added; by default the event's prev_events out, the event in. */
  extremities?: { remove: string[]; add: string[] };
  /** Operations the caller adds to the event's atomic batch (room creation, transaction id). */
  ops?: BatchOp[];
  links?: PersistLinks;
  rejectedReason?: string;
}

interface CurrentStateChange {
  changed: StateKey[];
  /** The new current state with events, when known without a reload. */
  afterMap?: StoredStateMap;
}

export type EventListener = (event: StoredEvent) => void;

/**
 * What another module keeps in step with the events, in each accepted event's own batch (the unread
 * counts of push/notification-counts.ts, like Synapse's `event_push_actions` written with the
 * event): `eventTxn` runs under the room's lock before the batch is written and adds its operations
 * to `ops`; what it returns runs once the batch is written (to update its caches), and never if
 * the write failed. A hook that throws is logged and its operations dropped: the event is stored
 * without them rather than refused.
 */
export interface EventBatchHook {
  eventTxn(ops: BatchOp[], ctx: EventBatchContext): Promise<(() => void) | undefined>;
}

export interface EventBatchContext {
  room: RoomRecord;
  /** The event as it will be stored (its meta has the stream position and the state snapshots). */
  event: StoredEvent;
  /** The state before the event, when the caller had it at hand (local sends); else load `event.meta.stateBefore`. */
  stateBefore?: StoredStateMap;
}

/** client-server-api "Size limits": the whole event, as JSON, at most 65536 bytes. */
const MAX_EVENT_BYTES = 65536;
/** Synapse lists at most 10 prev_events in the events it creates; peers refuse more than 20. */
const MAX_PREV_EVENTS = 10;
/** server-server "Depth": capped at 2^63 - 1; JSON numbers here stay safe integers. */
const MAX_DEPTH = Number.MAX_SAFE_INTEGER;
/** How long a send waits for earlier writes to settle before answering anyway (a write stuck on I/O). */
const SETTLE_WAIT_MS = 10_000;

export interface RoomEngineDeps {
  db: Database;
  notifier: StreamNotifier;
  serverName: string;
  signingKey: SigningKey;
  log: Logger;
}

/** One entry of the global stream: the event at a stream position and its room. */
export interface StreamEntry {
  stream: number;
  roomShort: number;
  eventShort: number;
}

export class RoomEngine {
  /*
   * The stores are the engine's alone: every event reaches them through `persistEvent` (a client
   * send, the MQTT bridge, and federation's received PDUs), and other modules read through the
   * narrow methods under "reads for other modules" (test/architecture/layers.test.ts keeps it so).
   */
  private readonly events: EventStore;
  private readonly snapshots: StateSnapshotStore;
  private readonly rooms: RoomStore;
  private readonly relations: RelationStore;
  private readonly waitingRedactions: WaitingRedactionStore;
  /** Current state of the most recently used rooms (a home has tens of rooms; devices one each). */
  private readonly stateCache = new LruCache<number, StoredStateMap>(64);
  /** Event ids of recently used state snapshots (`stateIdsOf`); small: a big room's map is ~100 KB. */
  private readonly stateIdsCache = new LruCache<number, ReadonlyMap<StateKey, string>>(8);
  /** Events of one room are created one at a time; rooms proceed in parallel. */
  private readonly roomLocks = new KeyedLock<number>();
  private readonly listeners = new Set<EventListener>();
  private readonly batchHooks = new Set<EventBatchHook>();

  constructor(private readonly deps: RoomEngineDeps) {
    this.events = new EventStore(deps.db);
    this.snapshots = new StateSnapshotStore(deps.db);
    this.rooms = new RoomStore(deps.db);
    this.relations = new RelationStore(deps.db);
    this.waitingRedactions = new WaitingRedactionStore(deps.db);
  }

  async open(): Promise<void> {
    await Promise.all([this.events.open(), this.snapshots.open(), this.rooms.open(), this.waitingRedactions.open()]);
  }

  /** The notifier the engine settles stream positions on (readers wait on it). */
  get notifier(): StreamNotifier {
    return this.deps.notifier;
  }

  /** Subscribes to every persisted event; returns the unsubscribe function. */
  onEvent(listener: EventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Adds a hook to every accepted event's batch ({@link EventBatchHook}); returns the removal function. */
  addBatchHook(hook: EventBatchHook): () => void {
    this.batchHooks.add(hook);
    return () => this.batchHooks.delete(hook);
  }

  room(roomId: string): RoomRecord | undefined {
    return this.rooms.get(roomId);
  }

  requireRoom(roomId: string): RoomRecord {
    const rec = this.rooms.get(roomId);
    if (!rec) throw notFound(`Unknown room ${roomId}`);
    return rec;
  }

  rulesOf(room: RoomRecord): RoomVersionRules {
    return getRoomVersionRules(room.version)!;
  }

  // ---------------------------------------------------------------- reading state

  /** The current state of a room, with events (cached; never mutate the returned map). */
  async currentState(roomId: string): Promise<StoredStateMap> {
    const room = this.requireRoom(roomId);
    const cached = this.stateCache.get(room.short);
    if (cached) return cached;
    const head = this.rooms.head(room.short);
    const state = await this.loadSnapshot(head?.snapshot ?? 0);
    this.stateCache.set(room.short, state);
    return state;
  }

  async stateEvent(roomId: string, type: string, key: string): Promise<StoredEvent | undefined> {
    return (await this.currentState(roomId)).get(stateKey(type, key));
  }

  /** State before or after an event. */
  async stateAt(event: StoredEvent, which: 'before' | 'after'): Promise<StoredStateMap> {
    return this.loadSnapshot(which === 'before' ? event.meta.stateBefore : event.meta.stateAfter);
  }

  async loadSnapshot(snapshot: number): Promise<StoredStateMap> {
    const shorts = await this.snapshots.load(snapshot);
    const state: StoredStateMap = new Map();
    await Promise.all(
      [...shorts].map(async ([sk, ev]) => {
        const event = await this.events.getByShort(ev);
        if (event) {
          const [type, key] = this.snapshots.stateKeyOf(sk);
          state.set(stateKey(type, key), event);
        }
      }),
    );
    return state;
  }

  async getEvent(eventId: string): Promise<StoredEvent | undefined> {
    return this.events.get(eventId);
  }

  async membershipOf(userId: string, roomId: string): Promise<Membership | undefined> {
    return (await this.rooms.membership(userId, roomId))?.membership;
  }

  /**
   * Asked on every send and by most reads. A join in the room's cached current state answers at once
   * (the auth rules judge by that state, and the membership index follows it); anything else asks
   * the index, which also knows memberships of rooms the server is not in (invites, rejections).
   */
  async isJoined(userId: string, roomId: string): Promise<boolean> {
    const room = this.rooms.get(roomId);
    const state = room && this.stateCache.get(room.short);
    if (state && getMembership(state, userId) === 'join') return true;
    return (await this.membershipOf(userId, roomId)) === 'join';
  }

  async getUserPowerLevel(roomId: string, userId: string): Promise<number> {
    const room = this.requireRoom(roomId);
    return getUserPowerLevel(userId, await this.currentState(roomId), this.rulesOf(room));
  }

  // ---------------------------------------------------------------- reads for other modules
  // What sync, timelines, relations, visibility, search, push and the directory read. Each is one
  // named question; none hands out a store. Stream and timeline entries carry short ids, resolved
  // with roomByShort / eventByShort.

  /** Every room this server knows (federation's sender lists the servers it shares rooms with). */
  allRooms(): RoomRecord[] {
    return this.rooms.all();
  }

  /** A room's record by its short id. */
  roomByShort(short: number): RoomRecord | undefined {
    return this.rooms.getByShort(short);
  }

  /** An event by its short id (accepted events only reach timelines and the stream). */
  async eventByShort(short: number): Promise<StoredEvent | undefined> {
    return this.events.getByShort(short);
  }

  /**
   * A room's timeline entries after (`f`) or before (`b`) stream position `from` (exclusive),
   * bounded by `to` (exclusive) when given; `b` walks newest first.
   */
  async timeline(roomShort: number, opts: { from: number; dir: 'f' | 'b'; limit: number; to?: number }): Promise<TimelineEntry[]> {
    return this.events.timeline(roomShort, opts);
  }

  /** Global stream entries with positions in (from, to], oldest first, at most `limit`. */
  async streamRange(from: number, to: number, limit: number): Promise<StreamEntry[]> {
    return this.events.streamRange(from, to, limit);
  }

  /** Global stream entries with positions below `before`, newest first, at most `limit`. */
  async streamBefore(before: number, limit: number): Promise<StreamEntry[]> {
    return this.events.streamBefore(before, limit);
  }

  /** Every room the user has a membership in (or had: leave, ban), with the event that set it. */
  async roomsOf(userId: string): Promise<UserRoomEntry[]> {
    return this.rooms.roomsOf(userId);
  }

  /** The user's membership in a room with the event and stream position that set it. */
  async membershipEntry(userId: string, roomId: string): Promise<UserRoomEntry | undefined> {
    return this.rooms.membership(userId, roomId);
  }

  /** The events at some `(type, state_key)`s of a stored state, without loading the rest of it. */
  async stateEventsAt(snapshot: number, keys: readonly (readonly [type: string, stateKey: string])[]): Promise<(StoredEvent | undefined)[]> {
    const shorts = keys.map(([type, key]) => this.snapshots.lookupStateKeyShort(type, key));
    // A state key never interned is in no state: skip loading the snapshot.
    if (shorts.every((s) => s === undefined)) return keys.map(() => undefined);
    const state = await this.snapshots.load(snapshot);
    return Promise.all(
      shorts.map(async (sk) => {
        const ev = sk === undefined ? undefined : state.get(sk);
        return ev ? this.events.getByShort(ev) : undefined;
      }),
    );
  }

  /** The children of an event, in stream order (client-server "Forming relationships between events"). */
  async relationChildren(parentShort: number, opts: { dir: 'f' | 'b'; from?: number; to?: number; limit?: number }): Promise<RelationEntry[]> {
    return this.relations.children(parentShort, opts);
  }

  /** A room's threads, most recently active first, after the thread-list position `before`. */
  async threads(roomShort: number, opts: { before?: ThreadEntry; limit: number }): Promise<ThreadEntry[]> {
    return this.relations.threads(roomShort, opts);
  }

  /**
   * POST /forget: the room no longer appears for the user. Not an event: a flag on the user's
   * membership index entry, so it lives here with the index.
   */
  async forget(userId: string, roomId: string): Promise<void> {
    await this.rooms.forget(userId, roomId);
  }

  // ---------------------------------------------------------------- writing

  /**
   * Creates a room: the create event first (in v12 it names the room), then each draft in order
   * under the room's lock. Returns the room id.
   */
  async createRoom(version: RoomVersionId, creator: string, createContent: JsonObject, drafts: EventDraft[]): Promise<string> {
    const rules = getRoomVersionRules(version);
    if (!rules) throw new MatrixError(400, ErrCode.UNSUPPORTED_ROOM_VERSION, `Unsupported room version ${version}`);
    const content: JsonObject = { ...createContent, room_version: version };
    if (rules.createContentHasCreator) content.creator = creator;
    else delete content.creator;
    // The client's creation_content goes into the create event: the same checks as any event's
    // content (a float there reached canonical JSON and was a 500; found by the fuzzer).
    validateDraft({ type: 'm.room.create', sender: creator, state_key: '', content }, rules);

    const template: PduTemplate = {
      auth_events: [],
      content,
      depth: 1,
      origin_server_ts: Date.now(),
      prev_events: [],
      sender: creator,
      type: 'm.room.create',
      state_key: '',
    };
    if (!rules.roomIdIsCreateEventHash) template.room_id = `!${randomLocalpart()}:${this.deps.serverName}`;
    const { pdu, eventId } = finalizePdu(template, { rules, serverName: this.deps.serverName, key: this.deps.signingKey });
    const event = toRoomEvent(pdu, rules, eventId);
    if (this.rooms.get(event.room_id)) throw new MatrixError(400, ErrCode.ROOM_IN_USE, 'Room already exists');
    const verdict = checkEventAuth(event, new Map(), rules);
    if (!verdict.allowed) throw new MatrixError(400, ErrCode.BAD_JSON, `Invalid create event: ${verdict.reason}`);

    const ops: BatchOp[] = [];
    const room = this.rooms.createTxn(ops, event.room_id, version, creator);
    const last = await this.roomLocks.run(room.short, async () => {
      let stream = (await this.persistEvent({ room, event, status: 'accepted', ops, stateBefore: { snapshot: 0, state: new Map() } })).meta.stream;
      for (const draft of drafts) stream = (await this.sendLocked(room, rules, draft, {})).stream;
      return stream;
    });
    await this.visibleToReaders(last);
    return room.roomId;
  }

  /** Sends one event into an existing room. */
  async sendEvent(roomId: string, draft: EventDraft, opts: SendOptions = {}): Promise<SentEvent> {
    const room = this.requireRoom(roomId);
    const rules = this.rulesOf(room);
    const sent = await this.roomLocks.run(room.short, async () => {
      if (opts.txn) {
        // Checked under the lock only: a retried request may race the first one, and a retry is
        // rare enough to wait its turn (a second read before the lock cost every send ~2%).
        const existing = await this.rooms.txnEvent(draft.sender, opts.txn.deviceId, txnEndpoint(room.roomId, draft), opts.txn.txnId);
        if (existing) return { eventId: existing, stream: (await this.events.get(existing))?.meta.stream ?? 0 };
      }
      return this.sendLocked(room, rules, draft, opts);
    });
    await this.visibleToReaders(sent.stream);
    return sent;
  }

  /**
   * Waits (outside the room lock, bounded) until readers can see the event at `stream`: the
   * settled position only passes it once every batch that reserved an earlier position is
   * written. Without this a client's /messages right after its own send could miss the event
   * while another room's write is in flight (the fuzz run's health check found it).
   */
  private async visibleToReaders(stream: number): Promise<void> {
    if (stream > 0) await this.deps.notifier.waitUntilSettled(stream, SETTLE_WAIT_MS);
  }

  /**
   * Authoring, step 2: the PDU template of a draft against the room's current state: prev_events
   * are the forward extremities, auth_events follow server-server "Auth events selection". Also
   * what `make_join`, `make_leave` and `make_knock` hand a remote server to sign.
   */
  private templateFor(room: RoomRecord, rules: RoomVersionRules, draft: EventDraft, state: StoredStateMap, head: RoomHead, ts: number): PduTemplate {
    const content: JsonObject = { ...draft.content };
    const template: PduTemplate = {
      auth_events: selectAuthEvents(draft.type, draft.state_key, draft.sender, content, state, rules),
      content,
      depth: Math.min(head.depth + 1, MAX_DEPTH),
      origin_server_ts: ts,
      prev_events: head.extremities.slice(0, MAX_PREV_EVENTS),
      room_id: room.roomId,
      sender: draft.sender,
      type: draft.type,
    };
    if (draft.state_key !== undefined) template.state_key = draft.state_key;
    if (draft.type === 'm.room.redaction') {
      if (!draft.redacts) throw new MatrixError(400, ErrCode.MISSING_PARAM, 'redaction needs redacts');
      // rooms/v11: `redacts` moved into content; v10 keeps it top-level.
      if (rules.redactsInContent) content.redacts = draft.redacts;
      else template.redacts = draft.redacts;
    }
    return template;
  }

  /**
   * The unsigned template of an event a remote server's user wants to send here (server-server
   * "Joining Rooms": `make_join`; likewise `make_leave`, `make_knock`), checked against the
   * current state so a refusal is known before the remote side signs it.
   */
  async templateForRemote(roomId: string, draft: EventDraft): Promise<{ template: PduTemplate; version: RoomVersionId }> {
    const room = this.requireRoom(roomId);
    const rules = this.rulesOf(room);
    validateDraft(draft, rules);
    return this.roomLocks.run(room.short, async () => {
      const head = this.rooms.head(room.short);
      if (!head) throw new Error(`room ${room.roomId} has no head`);
      const state = await this.currentState(room.roomId);
      const template = await withEventReferences(this.templateFor(room, rules, draft, state, head, Date.now()), rules, (id) => this.events.get(id));
      // The probe stands for the event as it will arrive: signed by its sender's server and, for a
      // restricted join we vouch for, by us (rooms/v8 auth rule 4.2).
      const probe = toRoomEvent({ ...template, hashes: { sha256: '' }, signatures: { [this.deps.serverName]: { probe: 'probe' } } }, rules, '$probe');
      const verdict = checkEventAuth(probe, state, rules);
      if (!verdict.allowed) throw forbidden(verdict.reason);
      return { template, version: room.version };
    });
  }

  private async sendLocked(room: RoomRecord, rules: RoomVersionRules, draft: EventDraft, opts: SendOptions): Promise<SentEvent> {
    validateDraft(draft, rules);
    const head = this.rooms.head(room.short);
    if (!head) throw new Error(`room ${room.roomId} has no head`);
    const state = await this.currentState(room.roomId);
    // The same sender setting the same state content again creates nothing and gets the event that
    // is there (Synapse: `deduplicate_state_event`; a client retrying, a bridge re-asserting).
    // Memberships are left to their own rules (a join over a join updates the profile).
    if (draft.state_key !== undefined && draft.type !== 'm.room.member') {
      const existing = state.get(stateKey(draft.type, draft.state_key));
      if (existing && existing.pdu.sender === draft.sender && canonicalJson(existing.pdu.content) === canonicalJson(draft.content)) {
        return { eventId: existing.event_id, stream: existing.meta.stream };
      }
    }
    const template = await withEventReferences(this.templateFor(room, rules, draft, state, head, opts.originServerTs ?? Date.now()), rules, (id) => this.events.get(id));
    const content = template.content;

    const { pdu, eventId } = finalizePdu(template, { rules, serverName: this.deps.serverName, key: this.deps.signingKey });
    const size = Buffer.byteLength(JSON.stringify(pdu), 'utf8');
    if (size > MAX_EVENT_BYTES) throw new MatrixError(413, ErrCode.TOO_LARGE, `Event is ${size} bytes; the limit is ${MAX_EVENT_BYTES}`);
    let event = toRoomEvent(pdu, rules, eventId);

    const verdict = checkEventAuth(event, state, rules);
    if (!verdict.allowed) throw forbidden(verdict.reason);
    await opts.vet?.(event, state);
    if (opts.countersign) event = { ...event, pdu: await opts.countersign(event, room.version) };

    const links: PersistLinks = {};
    if (opts.txn) links.txn = { userId: draft.sender, ...opts.txn };
    if (draft.type === 'm.room.redaction') {
      links.redactTarget = await this.checkRedaction(room, rules, draft, state);
    } else {
      const relation = relationOf(content);
      const parent = relation ? await this.checkRelation(room, relation, pdu) : undefined;
      if (relation && parent) links.relation = { parent, relation };
    }

    const ops: BatchOp[] = [];
    if (opts.txn) this.rooms.setTxnTxn(ops, draft.sender, opts.txn.deviceId, txnEndpoint(room.roomId, draft), opts.txn.txnId, eventId);
    const stored = await this.persistEvent({ room, event, status: 'accepted', ops, links, stateBefore: { snapshot: head.snapshot, state } });
    return { eventId: stored.event_id, stream: stored.meta.stream };
  }

  /**
   * The parent of a relation if the server knows it, after the checks the spec asks of the server
   * (client-server "Threading", "Server behaviour": 400 M_UNKNOWN for a thread off a child event)
   * and Synapse's refusal of a second identical reaction. An unknown parent is not an error (it may
   * arrive later over federation); the child is then simply not indexed.
   */
  private async checkRelation(room: RoomRecord, relation: Relation, child: Pdu): Promise<StoredEvent | undefined> {
    const parent = await this.events.get(relation.eventId);
    if (!parent) return undefined;
    const refusal = relationRefusal(relation, parent.pdu, parent.room_id, room.roomId);
    if (refusal) throw new MatrixError(400, ErrCode.UNKNOWN, refusal);
    if (relation.relType === REL_ANNOTATION && relation.key !== undefined && parent.meta.related) {
      for (const sibling of await this.relations.children(parent.short)) {
        if (sibling.relType !== REL_ANNOTATION || sibling.sender !== child.sender || sibling.type !== child.type || sibling.key !== relation.key) continue;
        // A redacted reaction no longer counts: the user may react again.
        if (!(await this.events.getByShort(sibling.childShort))?.meta.redactedBy) {
          throw new MatrixError(400, ErrCode.DUPLICATE_ANNOTATION, "Can't send the same reaction twice");
        }
      }
    }
    return parent;
  }

  /**
   * client-server "Redactions": the auth rules only check the redact power level's *event* level;
   * the server must also make sure a sender without the `redact` level only redacts their own events.
   */
  private async checkRedaction(room: RoomRecord, rules: RoomVersionRules, draft: EventDraft, state: StoredStateMap): Promise<StoredEvent | undefined> {
    const target = await this.events.get(draft.redacts!);
    if (!target) throw notFound('Event to redact not found in this room');
    // Synapse answers 400 here (handlers/message.py); an event of another room is not redacted through this one.
    if (target.room_id !== room.roomId) throw new MatrixError(400, ErrCode.UNKNOWN, 'Cannot redact an event from a different room');
    if (target.pdu.sender !== draft.sender && !canUserDo('redact', draft.sender, state, rules)) {
      throw forbidden('You may only redact your own events without the redact power level');
    }
    return target;
  }

  // ---------------------------------------------------------------- for federation

  /**
   * What a received event's batch links, as a local send's does, so that a remote redaction
   * redacts and a remote reaction, edit or thread reply is aggregated:
   * - a redaction's target, when it is known, in this room, and the redaction applies
   *   (`state/redaction-rules.ts`: rooms/v3 "Handling redactions", judged on `stateBefore`);
   * - a relation's parent, when it is known and the relation valid (client-server "Forming
   *   relationships between events"); an invalid one is stored, not aggregated.
   * A target or parent not known yet is not waited for: the event is stored without the link.
   */
  async linksOfReceived(room: RoomRecord, event: RoomEvent, stateBefore: StateEventMap): Promise<PersistLinks> {
    const rules = this.rulesOf(room);
    if (event.pdu.type === 'm.room.redaction') {
      const targetId = redactedEventId(event.pdu, rules);
      const target = targetId ? await this.events.get(targetId) : undefined;
      // Not here yet (or only as an outlier, not placed): applied when it is (persistEvent).
      if (targetId && (!target || target.meta.status === 'outlier')) return { awaitedTarget: targetId };
      if (!target || target.meta.status === 'rejected') return {};
      return redactionApplies(event, target, stateBefore, rules) ? { redactTarget: target } : {};
    }
    const relation = relationOf(event.pdu.content);
    if (!relation) return {};
    const parent = await this.events.get(relation.eventId);
    if (!parent || parent.meta.status === 'rejected' || relationRefusal(relation, parent.pdu, parent.room_id, room.roomId)) return {};
    return { relation: { parent, relation } };
  }

  /** Runs `fn` under the room's lock: received PDUs of one room are handled one at a time, like sends. */
  async runInRoom<T>(roomId: string, fn: (room: RoomRecord) => Promise<T>): Promise<T> {
    const room = this.requireRoom(roomId);
    return this.roomLocks.run(room.short, () => fn(room));
  }

  /**
   * Makes a room this server learns about from another one (a join through `send_join`): its record
   * with an empty head, so its first persisted events (the auth chain and state as outliers, then
   * the join) have a room to belong to. Idempotent.
   */
  async adoptRemoteRoom(roomId: string, version: RoomVersionId, creator: string): Promise<RoomRecord> {
    const existing = this.rooms.get(roomId);
    if (existing) return existing;
    if (!getRoomVersionRules(version)) throw new MatrixError(400, ErrCode.UNSUPPORTED_ROOM_VERSION, `Unsupported room version ${version}`);
    const ops: BatchOp[] = [];
    const room = this.rooms.createTxn(ops, roomId, version, creator);
    const head: RoomHead = { snapshot: 0, extremities: [], depth: 0, lastStream: 0 };
    this.rooms.setHeadTxn(ops, room.short, head);
    await this.deps.db.write(ops);
    this.rooms.remember(room, head);
    return room;
  }

  /**
   * A membership of one of our users in a room we are not in (server-server "Inviting to a room"
   * and "Leaving Rooms (Rejecting Invites)"): an invite another server sent, or our rejection of
   * it, or a knock we sent. The event is kept as an outlier (with the stripped state the inviting
   * server sent, for invites) and the user's membership changes at a new stream position, so
   * their /sync shows it.
   */
  async recordOutsiderMembership(room: RoomRecord, event: RoomEvent, inviteState?: JsonObject[]): Promise<void> {
    const userId = event.pdu.state_key!;
    const membership = event.pdu.content.membership as Membership;
    await this.roomLocks.run(room.short, async () => {
      const stream = this.deps.notifier.reserve();
      try {
        const ops: BatchOp[] = [];
        const known = await this.events.get(event.event_id);
        if (!known) {
          const meta: EventMeta = {
            eventId: event.event_id, roomShort: room.short, stream: 0, depth: event.pdu.depth,
            stateBefore: 0, stateAfter: 0, status: 'outlier', ...(inviteState ? { inviteState } : {}),
          };
          this.events.persistEventTxn(ops, event, this.events.allocateShort(), meta);
        }
        this.rooms.setMembershipTxn(ops, userId, { roomId: room.roomId, membership, eventId: event.event_id, stream });
        await this.deps.db.write(ops);
      } finally {
        this.deps.notifier.settle(stream);
      }
    });
  }

  /** Whether this server takes part in the room now: it created it, or one of our users is joined. */
  async participates(roomId: string): Promise<boolean> {
    const room = this.rooms.get(roomId);
    const head = room ? this.rooms.head(room.short) : undefined;
    if (!room || !head || head.extremities.length === 0) return false;
    const state = await this.currentState(roomId);
    for (const event of state.values()) {
      if (event.pdu.type === 'm.room.member' && event.pdu.content.membership === 'join' && event.pdu.state_key?.endsWith(`:${this.deps.serverName}`)) return true;
    }
    return false;
  }

  /** The forward edge of a room: extremities, depth and the current state's snapshot. */
  headOf(roomId: string): RoomHead | undefined {
    const room = this.rooms.get(roomId);
    return room ? this.rooms.head(room.short) : undefined;
  }

  /** A stored state as `(type, state_key)` -> event id (what state resolution and `/state_ids` speak). */
  /**
   * The event ids of a state snapshot. Snapshots never change once written, so the maps of the
   * last few are kept: a run of received messages is checked against the same one, and loading
   * it (every state event read from LevelDB) was most of the cost of receiving a PDU.
   */
  async stateIdsOf(snapshot: number): Promise<ReadonlyMap<StateKey, string>> {
    const cached = this.stateIdsCache.get(snapshot);
    if (cached) return cached;
    const out: StateIdMap = new Map();
    for (const [key, event] of await this.loadSnapshot(snapshot)) out.set(key, event.event_id);
    this.stateIdsCache.set(snapshot, out);
    return out;
  }

  /**
   * Steps 5-6 of the pipeline, for every event whatever its origin (a client send, the MQTT bridge,
   * a remote PDU): the caller has established what the event means for the room (its status, the
   * state before it, the room's resolved current state after it) and `persistEvent` writes exactly
   * that in one atomic batch, then makes it visible. Caller holds the room lock.
   *
   * - accepted: in the timeline and the stream, a forward extremity (server-server "Checks
   *   performed on receipt of a PDU": passed every check);
   * - soft_failed: stored with its state, never in a timeline, never an extremity, never current state;
   * - outlier: stored without state (fetched only to authorise others);
   * - rejected: stored so it is not fetched again, never served to clients.
   *
   * The membership index and the state cache follow the change in resolved current state, not the
   * event: a remote fork merged by state resolution may change several keys, or none.
   */
  async persistEvent(req: PersistRequest): Promise<StoredEvent> {
    const { room, event, status } = req;
    const { pdu } = event;
    const ops = req.ops ?? [];
    const links = req.links ?? {};
    const head = this.rooms.head(room.short) ?? { snapshot: 0, extremities: [], depth: 0, lastStream: 0 };
    const accepted = status === 'accepted';
    // The stream position is reserved only once the state work is done: readers see nothing past
    // a reserved position until it settles, so the window spans the batch write, not the awaits.
    let stream = 0;
    try {
      // An outlier that becomes part of the room (a long gap's events are stored as outliers as
      // they are fetched, then placed) keeps its short id: a new one would leave its first copy
      // behind on disk, unreferenced.
      const outlierShort = (event as Partial<StoredEvent>).meta?.status === 'outlier' ? (event as StoredEvent).short : undefined;
      const short = outlierShort ?? this.events.allocateShort();
      const isState = pdu.state_key !== undefined;
      const key = isState ? stateKey(pdu.type, pdu.state_key!) : undefined;
      let snapshotBefore = 0;
      let snapshotAfter = 0;
      let replaces: string | undefined;
      let stateAfterMap: StoredStateMap | undefined;
      if (status !== 'outlier' && req.stateBefore) {
        snapshotBefore = await this.snapshotOf(ops, req.stateBefore, head.snapshot);
        snapshotAfter = snapshotBefore;
        // A rejected event is not part of the state after it (server-server "Rejection"); a
        // soft-failed one is: later events that cite it resolve with it (server-server "Soft failure").
        if (isState && status !== 'rejected') {
          const sk = this.snapshots.stateKeyShortTxn(ops, pdu.type, pdu.state_key!);
          const beforeMap = await this.snapshots.load(snapshotBefore);
          replaces = await this.eventIdOfShort(beforeMap.get(sk));
          snapshotAfter = await this.snapshots.createTxn(ops, snapshotBefore, beforeMap, [[sk, short]]);
        }
        if ('state' in req.stateBefore && req.stateBefore.state) stateAfterMap = req.stateBefore.state;
      }
      // A redaction that came before this event and waits for it (soft-failed events are redacted too).
      const awaited = (status === 'accepted' || status === 'soft_failed') && this.waitingRedactions.isAwaited(event.event_id);
      const redactedBy = awaited ? await this.awaitingRedaction(ops, room, event) : undefined;
      if (accepted) stream = this.deps.notifier.reserve();
      const meta: EventMeta = {
        eventId: event.event_id,
        roomShort: room.short,
        stream,
        depth: pdu.depth,
        stateBefore: snapshotBefore,
        stateAfter: snapshotAfter,
        ...(replaces ? { replaces } : {}),
        ...(links.txn ? { txn: links.txn } : {}),
        ...(accepted ? {} : { status }),
        ...(req.rejectedReason ? { rejectedReason: req.rejectedReason } : {}),
        ...(redactedBy ? { redactedBy } : {}),
      };
      const stored = this.events.persistEventTxn(ops, event, short, meta);

      // The forward edge and the resolved current state move only with accepted events.
      let newHead: RoomHead | undefined;
      let current: CurrentStateChange | undefined;
      if (accepted) {
        const removed = new Set(req.extremities?.remove ?? prevEventIds(pdu));
        const added = req.extremities?.add ?? [event.event_id];
        const extremities = [...head.extremities.filter((id) => !removed.has(id)), ...added.filter((id) => !removed.has(id) || id === event.event_id)];
        let snapshot = head.snapshot;
        const target = req.currentState ?? 'after';
        if (target === 'after') {
          snapshot = snapshotAfter;
          const changed: StateKey[] = isState && req.stateBefore && snapshotAfter !== snapshotBefore ? [key!] : [];
          if (snapshotBefore !== head.snapshot) changed.push(...(await this.changedKeys(head.snapshot, snapshotBefore)));
          current = { changed, afterMap: stateAfterMap && snapshotBefore === head.snapshot ? withEvent(stateAfterMap, key, stored) : undefined };
        } else if (target !== 'unchanged') {
          snapshot = await this.snapshotOf(ops, { ids: target.ids }, head.snapshot, { eventId: event.event_id, short });
          current = { changed: await this.changedKeys(head.snapshot, snapshot) };
        }
        newHead = { snapshot, extremities: dedupe(extremities), depth: Math.max(head.depth, pdu.depth), lastStream: stream };
        this.rooms.setHeadTxn(ops, room.short, newHead);
        if (current) await this.indexMembershipChangesTxn(ops, room, current.changed, snapshot, stored, stream);
      }

      let redactedMeta: EventMeta | undefined;
      const { redactTarget, relation } = links;
      if (accepted && redactTarget && !redactTarget.meta.redactedBy) {
        redactedMeta = { ...redactTarget.meta, redactedBy: event.event_id };
        this.events.updateMetaTxn(ops, redactTarget, redactedMeta);
      }
      let parentMeta: EventMeta | undefined;
      if (accepted && relation) parentMeta = this.indexRelationTxn(ops, room, relation.parent, relation.relation, event, short, stream);
      if (accepted && links.awaitedTarget) this.waitingRedactions.addTxn(ops, links.awaitedTarget, short);
      // The state before, for the hooks, when at hand: the caller's, or the cached current state
      // when the event follows it (most received events), so a big room's state is not loaded again.
      const stateBeforeMap = stateAfterMap ?? (snapshotBefore !== 0 && snapshotBefore === head.snapshot ? this.stateCache.get(room.short) : undefined);
      const afterWrite = accepted ? await this.runBatchHooks(ops, { room, event: stored, ...(stateBeforeMap ? { stateBefore: stateBeforeMap } : {}) }) : [];

      await this.deps.db.write(ops);
      for (const done of afterWrite) done();

      // Visible to readers only after the batch is durable.
      this.events.remember(stored);
      if (accepted && links.awaitedTarget) this.waitingRedactions.remember(links.awaitedTarget);
      if (awaited) this.waitingRedactions.forget(event.event_id);
      if (newHead) {
        if (pdu.type === 'm.room.create' && !this.rooms.get(room.roomId)) this.rooms.remember(room, newHead);
        else this.rooms.rememberHead(room.short, newHead);
        if (redactTarget && redactedMeta) redactTarget.meta = redactedMeta;
        if (relation && parentMeta) relation.parent.meta = parentMeta;
        if (current?.afterMap) this.stateCache.set(room.short, current.afterMap);
        else if (current && current.changed.length > 0) this.stateCache.delete(room.short);
        this.emit(stored);
      }
      return stored;
    } finally {
      if (stream !== 0) this.deps.notifier.settle(stream);
    }
  }

  /** Each hook's operations go into `ops` (a failing hook's are dropped); returns what runs after the write. */
  private async runBatchHooks(ops: BatchOp[], ctx: EventBatchContext): Promise<(() => void)[]> {
    const after: (() => void)[] = [];
    for (const hook of this.batchHooks) {
      const own: BatchOp[] = [];
      try {
        const done = await hook.eventTxn(own, ctx);
        ops.push(...own);
        // After the write, the event must become visible whatever a hook's cache update does.
        if (done) {
          after.push(() => {
            try {
              done();
            } catch (err) {
              this.deps.log.error({ err, eventId: ctx.event.event_id }, 'event batch hook failed after the write');
            }
          });
        }
      } catch (err) {
        this.deps.log.error({ err, eventId: ctx.event.event_id }, 'event batch hook failed');
      }
    }
    return after;
  }

  /**
   * The id of a stored redaction that arrived before `event` and applies to it, its waiting entries
   * removed within `ops` (rooms/v3 "Handling redactions": the sender reaches the redact level in
   * the state before the redaction, or shares the event sender's domain; v1/v2 decided it in the
   * auth rules).
   */
  private async awaitingRedaction(ops: BatchOp[], room: RoomRecord, event: RoomEvent): Promise<string | undefined> {
    const rules = this.rulesOf(room);
    let applies: string | undefined;
    for (const short of await this.waitingRedactions.takeTxn(ops, event.event_id)) {
      const redaction = await this.events.getByShort(short);
      if (applies !== undefined || !redaction || redaction.meta.status !== undefined) continue;
      if (redactionApplies(redaction, event, await this.stateAt(redaction, 'before'), rules)) applies = redaction.event_id;
    }
    return applies;
  }

  /** The snapshot id of a state given by id, or created (as a delta against `base`) within `ops`. */
  private async snapshotOf(ops: BatchOp[], state: StateInput, base: number, self?: { eventId: string; short: number }): Promise<number> {
    if ('snapshot' in state) return state.snapshot;
    const baseMap = await this.snapshots.load(base);
    const wanted = new Map<number, number>();
    for (const [key, eventId] of state.ids) {
      const [type, sk] = splitStateKey(key);
      const evShort = eventId === self?.eventId ? self.short : await this.events.shortOf(eventId);
      if (evShort === undefined) throw new Error(`state event ${eventId} is not stored`);
      wanted.set(this.snapshots.stateKeyShortTxn(ops, type, sk), evShort);
    }
    const changes: [number, number][] = [];
    for (const [k, ev] of wanted) if (baseMap.get(k) !== ev) changes.push([k, ev]);
    for (const k of baseMap.keys()) if (!wanted.has(k)) changes.push([k, 0]);
    if (changes.length === 0) return base;
    return this.snapshots.createTxn(ops, base, baseMap, changes);
  }

  /** State keys whose event differs between two snapshots. */
  private async changedKeys(from: number, to: number): Promise<StateKey[]> {
    if (from === to) return [];
    const [a, b] = await Promise.all([this.snapshots.load(from), this.snapshots.load(to)]);
    const out: StateKey[] = [];
    for (const [k, ev] of b) if (a.get(k) !== ev) out.push(stateKey(...this.snapshots.stateKeyOf(k)));
    for (const k of a.keys()) if (!b.has(k)) out.push(stateKey(...this.snapshots.stateKeyOf(k)));
    return out;
  }

  private async eventIdOfShort(short: number | undefined): Promise<string | undefined> {
    return short === undefined ? undefined : (await this.events.getByShort(short))?.event_id;
  }

  /** The membership index follows the member keys that changed in the resolved current state. */
  private async indexMembershipChangesTxn(ops: BatchOp[], room: RoomRecord, changed: readonly StateKey[], snapshot: number, stored: StoredEvent, stream: number): Promise<void> {
    const members = changed.filter((k) => splitStateKey(k)[0] === 'm.room.member');
    if (members.length === 0) return;
    const map = await this.snapshots.load(snapshot);
    for (const key of members) {
      const [type, userId] = splitStateKey(key);
      const sk = this.snapshots.lookupStateKeyShort(type, userId);
      const evShort = sk === undefined ? undefined : map.get(sk);
      const member = evShort === stored.short ? stored : evShort === undefined ? undefined : await this.events.getByShort(evShort);
      this.rooms.setMembershipTxn(ops, userId, {
        roomId: room.roomId,
        membership: (member?.pdu.content.membership as Membership | undefined) ?? 'leave',
        eventId: member?.event_id ?? stored.event_id,
        stream,
      });
    }
  }

  /**
   * Adds a child to its parent's relations (and a thread reply to its room's thread list) in the
   * child's batch. Returns the parent's new meta when it is the parent's first child.
   */
  private indexRelationTxn(ops: BatchOp[], room: RoomRecord, parent: StoredEvent, relation: Relation, child: RoomEvent, childShort: number, stream: number): EventMeta | undefined {
    this.relations.addTxn(ops, parent.short, {
      childShort,
      stream,
      relType: relation.relType,
      type: child.pdu.type,
      sender: child.pdu.sender,
      ...(relation.key !== undefined ? { key: relation.key } : {}),
    });
    if (relation.relType === REL_THREAD) {
      this.relations.threadReplyTxn(ops, room.short, parent.short, stream, this.relations.latestThreadReply(parent.short));
    }
    if (parent.meta.related) return undefined;
    const meta: EventMeta = { ...parent.meta, related: true };
    this.events.updateMetaTxn(ops, parent, meta);
    return meta;
  }

  private emit(event: StoredEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (err) {
        this.deps.log.error({ err, eventId: event.event_id }, 'event listener failed');
      }
    }
  }
}

function withEvent(state: StoredStateMap, key: StateKey | undefined, event: StoredEvent): StoredStateMap {
  if (key === undefined) return state;
  const next: StoredStateMap = new Map(state);
  next.set(key, event);
  return next;
}

function dedupe(ids: string[]): string[] {
  return [...new Set(ids)];
}

/**
 * What every event this server creates must satisfy, whatever its origin (client API, room
 * creation, MQTT bridge), as 400 M_BAD_JSON: the identifier grammar of its type, state key, sender
 * and redacts (core/identifiers.ts: a NUL in a type or state key could pose as another state key);
 * content that is canonical JSON in this room version (core/json-text.ts: integers only, bounded
 * depth, valid Unicode; a float in power levels was a 500); and the shapes of well-known state
 * contents (core/event-content.ts: `join_rule: 5` is refused).
 */
function validateDraft(draft: EventDraft, rules: RoomVersionRules): void {
  const refusal =
    eventIdentifiersRefusal(draft) ??
    jsonValueRefusal(draft.content, { integersOnly: rules.strictCanonicalJson }) ??
    (draft.state_key !== undefined ? wellKnownContentRefusal(draft.type, draft.content, rules) : undefined);
  if (refusal !== undefined) throw new MatrixError(400, ErrCode.BAD_JSON, refusal);
}

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
function randomLocalpart(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(18));
  let out = '';
  for (const b of bytes) out += ALPHABET[b % ALPHABET.length];
  return out;
}

export type { StoredEvent, Pdu, Membership, RoomRecord, UserRoomEntry, TimelineEntry, RelationEntry, ThreadEntry };
