/**
 * Receiving a PDU (server-server "Checks performed on receipt of a PDU"), in the order every
 * server converges on:
 *   1. a valid event (shape, size, canonical JSON), else dropped;
 *   2. the signatures of the servers that must sign it, else dropped;
 *   3. the content hash, else the redacted form is kept;
 *   4. its auth events known (missing ones fetched and stored as outliers), and the event
 *      allowed by them, else rejected;
 *   5. its prev events known: missing ones fetched with `get_missing_events`, then `backfill`
 *      for a long gap (bounded), and placed oldest first; for what is still missing the state
 *      there is fetched (`state_ids` + `event`), its events stored as outliers (outliers never
 *      reach a timeline);
 *   6. allowed by the state before it (the resolution of the states after its prev events),
 *      else rejected;
 *   7. allowed by the current state, else soft-failed (stored, not shown, not an extremity).
 * Accepted events go through the same `persistEvent` as locally created ones, with the state
 * established here; a fork is merged by state resolution into the new current state.
 *
 * One failing pull never fails the PDU's transaction: the PDU gets an error and the others go on.
 */
import type { Logger } from 'pino';
import { hasValidContentHash } from '../../core/hashes.js';
import { redactPdu } from '../../core/redaction.js';
import { toRoomEvent } from '../../core/room-event.js';
import type { RoomVersionRules } from '../../core/room-versions.js';
import { stateKey, type Pdu, type RoomEvent, type StateEventMap, type StateIdMap, type StateKey } from '../../core/types.js';
import { checkAuthEventsList, checkEventAuth } from '../../state/auth-rules.js';
import { authEventKeys } from '../../state/auth-events.js';
import { CREATE_KEY, stateMapOf } from '../../state/room-state.js';
import { resolveState } from '../../state/state-resolution.js';
import type { RoomEngine, RoomRecord, StateInput, StoredEvent } from '../../rooms/engine.js';
import { checkPduFormat } from './pdu-format.js';
import { referencedEventIds as referencedIds } from '../../core/event-references.js';
import { checkEventSignatures, type ServerKeyLookup } from './event-signatures.js';
import { isServerAllowedByAcl } from '../send/server-acl.js';

/** The pulls a receiving server makes of the server that sent it an event. */
export interface RemoteEventSource {
  /** GET /_matrix/federation/v1/event/{eventId}: the PDU, unchecked. */
  event(origin: string, eventId: string): Promise<unknown>;
  /** POST /_matrix/federation/v1/get_missing_events/{roomId}: PDUs, unchecked. */
  missingEvents(origin: string, roomId: string, earliest: string[], latest: string[], limit: number, minDepth: number): Promise<unknown[]>;
  /** GET /_matrix/federation/v1/backfill/{roomId}?v=...&limit=: the given events and those before them, unchecked. */
  backfill(origin: string, roomId: string, from: string[], limit: number): Promise<unknown[]>;
  /** GET /_matrix/federation/v1/state_ids/{roomId}?event_id=: the state before the event and its auth chain. */
  stateIds(origin: string, roomId: string, eventId: string): Promise<{ pdu_ids: string[]; auth_chain_ids: string[] }>;
}

export interface PduHandlerDeps {
  engine: RoomEngine;
  remote: RemoteEventSource;
  keys: ServerKeyLookup;
  log: Logger;
}

/** The outcome of one received PDU: nothing on success, else why it was dropped or rejected. */
export type PduOutcome = { eventId?: string; error?: string; status?: 'accepted' | 'soft_failed' | 'rejected' | 'outlier' | 'dropped' | 'known' };

/** Missing events asked for per `get_missing_events` call (Synapse asks for 10 and answers at most 20). */
const MISSING_EVENTS_LIMIT = 50;
/** Events asked for per `/backfill` call (Synapse answers at most 100). */
const BACKFILL_LIMIT = 100;
/**
 * A gap longer than this is walked with `/backfill` rather than `get_missing_events`: five times
 * fewer round trips against Synapse, at the cost of one batch that overshoots into what we have.
 */
const MISSING_EVENTS_WALK = 100;
/**
 * A gap is filled in order up to this many events (a gateway offline for days in a busy room);
 * beyond, /state_ids bridges it and the history before keeps a hole.
 */
const MAX_GAP_EVENTS = 20_000;
/** Gap events held whole in memory while the gap is walked; the rest are stored as outliers as they come. */
const GAP_EVENTS_IN_MEMORY = 500;
/** Requests one gap walk may make (both kinds together). */
const MAX_GAP_REQUESTS = Math.ceil(MAX_GAP_EVENTS / BACKFILL_LIMIT) + Math.ceil(MISSING_EVENTS_WALK / 20) + 20;
/** At most this many events fetched to authorise or place one received PDU (a stranger cannot make us fetch a room). */
const MAX_FETCHES_PER_PDU = 200;

/** One event of a gap being walked: held whole, or stored as an outlier and only referenced. */
interface GapEntry {
  id: string;
  depth: number;
  prevs: string[];
  event?: RoomEvent;
}

/** A PDU that passed steps 1-3, with its id and the form to store (redacted on a hash mismatch). */
interface CheckedPdu {
  event: RoomEvent;
}

class FetchBudget {
  constructor(private left: number) {}
  take(): void {
    if (this.left-- <= 0) throw new Error('too many events to fetch for one PDU');
  }
}

export class PduHandler {
  constructor(private readonly deps: PduHandlerDeps) {}

  /**
   * Receives one PDU of a transaction from `origin` (`PUT /send`). Rooms this server is not in
   * are refused (a server only sends us events of rooms we share).
   */
  async receive(origin: string, raw: unknown): Promise<PduOutcome> {
    const roomId = typeof (raw as { room_id?: unknown })?.room_id === 'string' ? (raw as { room_id: string }).room_id : undefined;
    const room = roomId ? this.deps.engine.room(roomId) : undefined;
    if (!room) return { status: 'dropped', error: `not in room ${roomId ?? '(none)'}` };
    // server-server "Server Access Control Lists (ACLs)": a denied origin's PDUs are refused.
    const acl = (await this.deps.engine.stateEvent(room.roomId, 'm.room.server_acl', ''))?.pdu.content;
    if (acl && !isServerAllowedByAcl(origin, acl)) return { status: 'dropped', error: `${origin} is denied by the room's server ACL` };
    const rules = this.deps.engine.rulesOf(room);
    const checked = await this.checkReceived(raw, room, rules);
    if ('error' in checked) return { status: 'dropped', error: checked.error };
    const { event } = checked;
    try {
      return await this.deps.engine.runInRoom(room.roomId, async () => {
        const known = await this.deps.engine.getEvent(event.event_id);
        if (known && known.meta.status !== 'outlier') return { eventId: event.event_id, status: 'known' as const };
        // A known outlier is placed as stored (keeping its short id, see RoomEngine.persistEvent).
        return this.place(origin, room, rules, known ?? event, new FetchBudget(MAX_FETCHES_PER_PDU), true);
      });
    } catch (err) {
      this.deps.log.warn({ err: (err as Error).message, origin, eventId: event.event_id }, 'received PDU could not be placed');
      return { eventId: event.event_id, status: 'dropped', error: (err as Error).message };
    }
  }

  /** Steps 1-3: shape, signatures, content hash. */
  async checkReceived(raw: unknown, room: Pick<RoomRecord, 'roomId'>, rules: RoomVersionRules): Promise<CheckedPdu | { error: string }> {
    const format = checkPduFormat(raw, room.roomId, rules);
    if (!format.ok) return { error: `invalid event: ${format.reason}` };
    let pdu: Pdu = format.pdu;
    let event: RoomEvent;
    try {
      event = eventOf(pdu, rules);
    } catch (err) {
      return { error: `invalid event: ${(err as Error).message}` };
    }
    const signatureFault = await checkEventSignatures(pdu, event.event_id, rules, this.deps.keys);
    if (signatureFault) return { error: `bad signature: ${signatureFault}` };
    if (!hasValidContentHash(pdu, rules)) {
      // server-server "Checks performed on receipt of a PDU" step 3: keep the redacted form.
      pdu = redactPdu(pdu, rules);
      event = { ...event, pdu };
    }
    return { event };
  }

  /**
   * Steps 4-7 for an event whose own checks passed. Caller holds the room lock. `fetchGaps`
   * allows `get_missing_events` (not for events that came from it: their gaps go to /state_ids).
   */
  private async place(origin: string, room: RoomRecord, rules: RoomVersionRules, event: RoomEvent, budget: FetchBudget, fetchGaps: boolean): Promise<PduOutcome> {
    const { engine } = this.deps;
    const eventId = event.event_id;

    // 4. Auth events: known, not rejected, and allowing the event.
    const authEvents = await this.ensureAuthEvents(origin, room, rules, event, budget);
    const authFault = authEvents === undefined ? 'an auth event is missing or was rejected' : authCheck(event, authEvents, rules);
    if (authFault) {
      await engine.persistEvent({ room, event, status: 'rejected', rejectedReason: authFault });
      return { eventId, status: 'rejected', error: `rejected: ${authFault}` };
    }

    // 5. Prev events: fetch the gap, then the state at whatever is still missing.
    const prevIds = [...referencedIds(event.pdu.prev_events)];
    let missing = await this.missingWithState(prevIds);
    if (missing.length > 0 && fetchGaps) {
      await this.fetchMissingEvents(origin, room, rules, event, budget);
      missing = await this.missingWithState(prevIds);
    }
    const stateSets: ReadonlyMap<StateKey, string>[] = [];
    for (const prevId of prevIds) {
      const prev = await engine.getEvent(prevId);
      if (prev && prev.meta.status === undefined) stateSets.push(await engine.stateIdsOf(prev.meta.stateAfter));
      else if (prev?.meta.status === 'soft_failed') stateSets.push(await engine.stateIdsOf(prev.meta.stateAfter));
      else if (missing.includes(prevId)) stateSets.push(await this.stateAfterRemote(origin, room, rules, prevId, budget));
    }

    // 6. The state before the event: one prev event's state after, or the resolution of several.
    let stateBefore: StateInput;
    let beforeIds: ReadonlyMap<StateKey, string>;
    const singlePrev = prevIds.length === 1 ? await engine.getEvent(prevIds[0]!) : undefined;
    if (singlePrev && singlePrev.meta.status !== 'outlier' && singlePrev.meta.status !== 'rejected') {
      stateBefore = { snapshot: singlePrev.meta.stateAfter };
      beforeIds = stateSets[0] ?? new Map();
    } else {
      const resolved = await this.resolve(stateSets, rules);
      beforeIds = resolved;
      stateBefore = { ids: resolved };
    }
    const beforeEvents = await this.authStateOf(beforeIds, event, rules);
    const stateFault = checkEventAuth(event, withCreate(beforeEvents, authEvents!, rules), rules);
    if (!stateFault.allowed) {
      await engine.persistEvent({ room, event, status: 'rejected', rejectedReason: stateFault.reason });
      return { eventId, status: 'rejected', error: `rejected: ${stateFault.reason}` };
    }

    // 7. Soft failure: allowed before it, but not by the room as it is now.
    const head = engine.headOf(room.roomId)!;
    const currentIds = await engine.stateIdsOf(head.snapshot);
    const currentEvents = await this.authStateOf(currentIds, event, rules);
    const softFault = currentIds.size === 0 ? undefined : checkEventAuth(event, withCreate(currentEvents, authEvents!, rules), rules);
    if (softFault && !softFault.allowed) {
      await engine.persistEvent({ room, event, status: 'soft_failed', stateBefore });
      this.deps.log.info({ eventId, reason: softFault.reason }, 'soft-failed a received event');
      return { eventId, status: 'soft_failed' };
    }

    // The current state: the state after the event when it succeeds every extremity, else the
    // resolution of the forks (rooms/v2 "State resolution").
    const succeedsAll = head.extremities.every((id) => prevIds.includes(id));
    let currentState: 'after' | { ids: StateIdMap } = 'after';
    if (!succeedsAll) {
      const afterIds = new Map(beforeIds);
      if (event.pdu.state_key !== undefined) afterIds.set(stateKey(event.pdu.type, event.pdu.state_key), eventId);
      currentState = { ids: await this.resolve([currentIds, afterIds], rules, event) };
    }
    const links = await engine.linksOfReceived(room, event, withCreate(beforeEvents, authEvents!, rules));
    await engine.persistEvent({ room, event, status: 'accepted', stateBefore, currentState, links });
    return { eventId, status: 'accepted' };
  }

  /** The prev events that are unknown, or known only as outliers or rejected (no state to build on). */
  private async missingWithState(prevIds: string[]): Promise<string[]> {
    const out: string[] = [];
    for (const id of prevIds) {
      const prev = await this.deps.engine.getEvent(id);
      if (!prev || prev.meta.status === 'outlier' || prev.meta.status === 'rejected') out.push(id);
    }
    return out;
  }

  /**
   * Step 4: the event's auth events, fetching and storing (as outliers) the ones we lack, each
   * checked against its own auth events. Undefined when one cannot be had or was rejected.
   */
  private async ensureAuthEvents(origin: string, room: RoomRecord, rules: RoomVersionRules, event: RoomEvent, budget: FetchBudget): Promise<RoomEvent[] | undefined> {
    const out: RoomEvent[] = [];
    for (const id of referencedIds(event.pdu.auth_events)) {
      let authEvent: StoredEvent | undefined = await this.deps.engine.getEvent(id);
      if (!authEvent) authEvent = await this.fetchOutlier(origin, room, rules, id, budget);
      if (!authEvent || authEvent.meta.status === 'rejected' || authEvent.room_id !== room.roomId) return undefined;
      out.push(authEvent);
    }
    if (!rules.createEventInAuthEvents && event.pdu.type !== 'm.room.create') {
      // rooms/v12 auth rule 2: the room id names the create event; the rules still read it.
      const createId = '$' + room.roomId.slice(1);
      const create = (await this.deps.engine.getEvent(createId)) ?? (await this.fetchOutlier(origin, room, rules, createId, budget));
      if (!create || create.meta.status === 'rejected') return undefined;
      out.push(create);
    }
    return out;
  }

  /** Fetches an event we lack, checks it and its auth chain, and stores it as an outlier (or rejected). */
  private async fetchOutlier(origin: string, room: RoomRecord, rules: RoomVersionRules, eventId: string, budget: FetchBudget): Promise<StoredEvent | undefined> {
    budget.take();
    let raw: unknown;
    try {
      raw = await this.deps.remote.event(origin, eventId);
    } catch (err) {
      this.deps.log.debug({ err: (err as Error).message, origin, eventId }, 'could not fetch an event');
      return undefined;
    }
    const checked = await this.checkReceived(raw, room, rules);
    if ('error' in checked || checked.event.event_id !== eventId) return undefined;
    return this.storeOutlier(origin, room, rules, checked.event, budget);
  }

  /** Stores a checked event as an outlier after checking it against its own auth events. */
  async storeOutlier(origin: string, room: RoomRecord, rules: RoomVersionRules, event: RoomEvent, budget = new FetchBudget(MAX_FETCHES_PER_PDU)): Promise<StoredEvent | undefined> {
    const known = await this.deps.engine.getEvent(event.event_id);
    if (known) return known;
    const authEvents = await this.ensureAuthEvents(origin, room, rules, event, budget);
    const fault = authEvents === undefined ? 'an auth event is missing or was rejected' : authCheck(event, authEvents, rules);
    if (fault) return this.deps.engine.persistEvent({ room, event, status: 'rejected', rejectedReason: fault });
    return this.deps.engine.persistEvent({ room, event, status: 'outlier' });
  }

  /**
   * Step 5: the gap between our extremities and the event, fetched newest first and placed oldest
   * first. `get_missing_events` walks back from the event (each call returns the events nearest
   * the ones asked about, so the next asks about the oldest still hanging); a gap longer than
   * {@link MISSING_EVENTS_WALK} goes on with `/backfill` from the missing prev events. The walk
   * ends when every fetched event's prev events are known with state or fetched (the gap closed),
   * when the peer has nothing more, or at {@link MAX_GAP_EVENTS}. Past
   * {@link GAP_EVENTS_IN_MEMORY} events, each is stored as an outlier when it arrives and only its
   * id, depth and prev events are held, so a gateway back from days offline fills a gap of
   * thousands of events in order with a few MB of memory. What stays missing is bridged by
   * /state_ids.
   */
  private async fetchMissingEvents(origin: string, room: RoomRecord, rules: RoomVersionRules, event: RoomEvent, budget: FetchBudget): Promise<void> {
    const { engine, log } = this.deps;
    const head = engine.headOf(room.roomId)!;
    const gap = new Map<string, GapEntry>();
    const requests = new FetchBudget(MAX_GAP_REQUESTS);
    let latest = [event.event_id];
    let useBackfill = false;
    while (gap.size < MAX_GAP_EVENTS) {
      let raws: unknown[];
      try {
        requests.take();
        raws = useBackfill
          ? await this.deps.remote.backfill(origin, room.roomId, latest, BACKFILL_LIMIT)
          : // What we already fetched counts as had: the peer does not send it again (it did, ~1.45 KB
            // an event, when several hanging events' walks overlapped). At most MISSING_EVENTS_WALK ids.
            await this.deps.remote.missingEvents(origin, room.roomId, [...head.extremities, ...gap.keys()], latest, MISSING_EVENTS_LIMIT, 0);
      } catch (err) {
        log.debug({ err: (err as Error).message, origin, backfill: useBackfill }, 'fetching a gap failed');
        break;
      }
      let added = 0;
      for (const raw of raws.slice(0, useBackfill ? BACKFILL_LIMIT : MISSING_EVENTS_LIMIT)) {
        if (gap.size >= MAX_GAP_EVENTS) break;
        const result = await this.checkReceived(raw, room, rules);
        if ('error' in result) continue;
        const fetched = result.event;
        if (gap.has(fetched.event_id) || fetched.event_id === event.event_id) continue;
        const known = await engine.getEvent(fetched.event_id);
        // Already placed: /backfill overshoots into what we have.
        if (known && known.meta.status !== 'outlier') continue;
        const entry: GapEntry = { id: fetched.event_id, depth: fetched.pdu.depth, prevs: [...referencedIds(fetched.pdu.prev_events)] };
        if (gap.size < GAP_EVENTS_IN_MEMORY) entry.event = fetched;
        else if (!known) await engine.persistEvent({ room, event: fetched, status: 'outlier' });
        gap.set(entry.id, entry);
        added++;
      }
      if (added > 0 && gap.size % 1000 < added) log.info({ roomId: room.roomId, origin, events: gap.size }, 'filling a gap in the room\'s history');
      if (added === 0 && useBackfill) break;
      // The gap's oldest edge: prev events neither fetched nor known with state.
      const missing = new Set<string>();
      for (const entry of gap.values()) {
        const prevs = entry.prevs.filter((id) => !gap.has(id) && id !== event.event_id);
        for (const id of prevs.length > 0 ? await this.missingWithState(prevs) : []) missing.add(id);
      }
      if (missing.size === 0) break;
      if (!useBackfill && (added === 0 || gap.size >= MISSING_EVENTS_WALK)) useBackfill = true;
      latest = useBackfill
        ? [...missing].slice(0, 20)
        : [...gap.values()].filter((entry) => entry.prevs.some((id) => missing.has(id))).map((entry) => entry.id).slice(0, 20);
    }
    if (gap.size >= GAP_EVENTS_IN_MEMORY) log.info({ roomId: room.roomId, origin, events: gap.size }, 'placing the events of a gap, oldest first');
    const ordered = [...gap.values()].sort((a, b) => a.depth - b.depth);
    for (const entry of ordered) {
      const known = await engine.getEvent(entry.id);
      if (known && known.meta.status !== 'outlier') continue;
      const missingEvent = entry.event ?? known;
      if (missingEvent) await this.place(origin, room, rules, missingEvent, budget, false);
    }
  }

  /**
   * The state after a prev event we could not place: the state before it from `/state_ids`
   * (its events and auth chain stored as outliers), plus the event itself when it is state.
   */
  private async stateAfterRemote(origin: string, room: RoomRecord, rules: RoomVersionRules, prevId: string, budget: FetchBudget): Promise<StateIdMap> {
    budget.take();
    const { pdu_ids, auth_chain_ids } = await this.deps.remote.stateIds(origin, room.roomId, prevId);
    if (!Array.isArray(pdu_ids) || !Array.isArray(auth_chain_ids)) throw new Error('malformed state_ids answer');
    for (const id of auth_chain_ids) {
      if (typeof id === 'string' && !(await this.deps.engine.getEvent(id))) await this.fetchOutlier(origin, room, rules, id, budget);
    }
    const state: StateIdMap = new Map();
    for (const id of pdu_ids) {
      if (typeof id !== 'string') continue;
      const event = (await this.deps.engine.getEvent(id)) ?? (await this.fetchOutlier(origin, room, rules, id, budget));
      if (event && event.meta.status !== 'rejected' && event.pdu.state_key !== undefined) state.set(stateKey(event.pdu.type, event.pdu.state_key), id);
    }
    const prev = (await this.deps.engine.getEvent(prevId)) ?? (await this.fetchOutlier(origin, room, rules, prevId, budget));
    if (prev && prev.meta.status !== 'rejected' && prev.pdu.state_key !== undefined) state.set(stateKey(prev.pdu.type, prev.pdu.state_key), prevId);
    return state;
  }

  /** State resolution over stored events (their auth chains loaded first: resolution is pure). */
  private async resolve(stateSets: readonly ReadonlyMap<StateKey, string>[], rules: RoomVersionRules, extra?: RoomEvent): Promise<StateIdMap> {
    if (stateSets.length === 0) return new Map();
    if (stateSets.length === 1) return new Map(stateSets[0]);
    const events = new Map<string, StoredEvent | RoomEvent>();
    const rejected = new Set<string>();
    if (extra) events.set(extra.event_id, extra);
    const pending: string[] = stateSets.flatMap((set) => [...set.values()]);
    while (pending.length > 0) {
      const id = pending.pop()!;
      if (events.has(id)) {
        if (id !== extra?.event_id) continue;
      } else {
        const event = await this.deps.engine.getEvent(id);
        if (!event) continue;
        events.set(id, event);
        if (event.meta.status === 'rejected') rejected.add(id);
      }
      for (const authId of referencedIds(events.get(id)!.pdu.auth_events)) if (!events.has(authId)) pending.push(authId);
    }
    return resolveState(stateSets, (id) => events.get(id), rules, { isRejected: (id) => rejected.has(id) });
  }

  /**
   * The part of a state the auth rules read for `event`: the keys of server-server "Auth events
   * selection" and the create event (the redaction rules need no more: power levels). Loading
   * every state event for each received PDU cost a read per member of the room.
   */
  private async authStateOf(ids: ReadonlyMap<StateKey, string>, event: RoomEvent, rules: RoomVersionRules): Promise<StateEventMap> {
    const { pdu } = event;
    const keys = new Set([stateKey('m.room.create', ''), ...authEventKeys(pdu.type, pdu.state_key, pdu.sender, pdu.content, rules)]);
    const out: StateEventMap = new Map();
    for (const key of keys) {
      const id = ids.get(key);
      const stored = id === undefined ? undefined : await this.deps.engine.getEvent(id);
      if (stored) out.set(key, stored);
    }
    return out;
  }
}

/** The event with its id: v1/v2 events carry it, later versions derive it (rooms/v3, rooms/v4 "Event IDs"). */
export function eventOf(pdu: Pdu, rules: RoomVersionRules): RoomEvent {
  const carried = (pdu as unknown as { event_id?: unknown }).event_id;
  if (rules.eventIdFormat === 'server-generated') {
    if (typeof carried !== 'string') throw new Error('a v1/v2 event carries its event_id');
    return toRoomEvent(pdu, rules, carried);
  }
  return toRoomEvent(pdu, rules);
}

/** Step 4's verdict: the auth_events list itself, then the auth rules against the state it forms. */
function authCheck(event: RoomEvent, authEvents: RoomEvent[], rules: RoomVersionRules): string | undefined {
  // The create event has no auth events; auth rule 1 judges it alone.
  if (event.pdu.type !== 'm.room.create') {
    const listed = rules.createEventInAuthEvents ? authEvents : authEvents.filter((e) => e.pdu.type !== 'm.room.create');
    const list = checkAuthEventsList(event, listed, rules);
    if (!list.allowed) return list.reason;
  }
  const verdict = checkEventAuth(event, withCreate(stateMapOf(authEvents), authEvents, rules), rules);
  return verdict.allowed ? undefined : verdict.reason;
}

/** rooms/v12: the create event is not among auth_events; the auth rules still need it. */
function withCreate(state: StateEventMap, authEvents: RoomEvent[], rules: RoomVersionRules): StateEventMap {
  if (rules.createEventInAuthEvents || state.has(CREATE_KEY)) return state;
  const create = authEvents.find((e) => e.pdu.type === 'm.room.create');
  if (!create) return state;
  const out = new Map(state);
  out.set(CREATE_KEY, create);
  return out;
}
