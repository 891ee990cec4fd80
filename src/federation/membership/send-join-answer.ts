/**
 * What a join keeps of a `send_join` answer while it is read (server-server "Joining Rooms":
 * `state` is the room's state before the join, `auth_chain` the events that authorise it). A big
 * room's answer is thousands of PDUs; it is read as a stream (`core/json-stream.ts`), each event
 * checked as it arrives, and only this is held: per checked event, its JSON as one compact string
 * and the few fields the join needs afterwards (auth order, the state map, essential types). The
 * parsed answer, and the parsed events, are never held all at once. Pure.
 */
import { MAX_PDU_BYTES } from '../receive/pdu-format.js';
import { referencedEventIds } from '../../core/event-references.js';
import { isJsonObject } from '../../core/json-object.js';
import type { RoomVersionRules } from '../../core/room-versions.js';
import { stateKey, type Pdu, type RoomEvent, type StateIdMap } from '../../core/types.js';

/**
 * Largest event of `state` or `auth_chain` as sent: the spec's PDU limit (65,536 bytes of canonical
 * JSON, client-server "Size limits") plus room for what servers add around the signed event
 * (`unsigned`: `age`, an invite's or knock's stripped state) and for non-canonical spacing.
 * Anything larger cannot be a valid PDU; the join fails rather than buffer it.
 */
export const MAX_SEND_JOIN_EVENT_BYTES = MAX_PDU_BYTES + 32 * 1024;
/** Largest other member (`event`: our join, countersigned; `servers_in_room`: one name per server). */
export const MAX_SEND_JOIN_MEMBER_BYTES = 1024 * 1024;
/**
 * Largest whole answer. A 2,000-member room's is ~3 MB (~1.3 KB an event); 64 MiB is ~50,000
 * events. The join keeps each checked event as compact text (about its size on the wire) until
 * they are stored in auth order, so this also bounds that: beyond it a 1 GB gateway should not try.
 */
export const MAX_SEND_JOIN_BYTES = 64 * 1024 * 1024;
/**
 * Deadline of the whole transfer. Events are checked while it is read (the stream is not read on
 * while one is checked, so the server waits on us): ~1 ms an event on a loaded server-class core,
 * several on a Raspberry Pi, plus key fetches for servers not met before.
 */
export const SEND_JOIN_TIMEOUT_MS = 10 * 60_000;

/** State the room's rules stand on: a join whose answer cannot prove these is refused. */
export const ESSENTIAL_STATE_TYPES: ReadonlySet<string> = new Set(['m.room.create', 'm.room.power_levels', 'm.room.join_rules']);

/** One checked event, compact: its JSON as text, parsed again only when it is stored. */
interface HeldEvent {
  /** `JSON.stringify` of the checked (possibly redacted) PDU; dropped once stored. */
  text: string | undefined;
  type: string;
  stateKey: string | undefined;
  sender: string;
  authIds: readonly string[];
  /** Listed in `state` (not only in `auth_chain`). */
  inState: boolean;
}

/** The checked events of one send_join answer, in the order the join needs them. */
export class SendJoinEvents {
  private readonly held = new Map<string, HeldEvent>();
  /** State events left out because they failed their checks (non-essential ones only). */
  droppedState = 0;
  /** The first few faults, for messages. */
  readonly faults: string[] = [];

  constructor(
    private readonly roomId: string,
    private readonly rules: RoomVersionRules,
  ) {}

  /** An event that passed its checks (shape, signatures, hash), from `state` or `auth_chain`. */
  addChecked(event: RoomEvent, inState: boolean): void {
    const known = this.held.get(event.event_id);
    if (known) {
      // In both lists (a server that does not omit the state from the auth chain): checked once kept.
      known.inState ||= inState;
      return;
    }
    const { pdu } = event;
    this.held.set(event.event_id, {
      text: JSON.stringify(pdu),
      type: pdu.type,
      stateKey: pdu.state_key,
      sender: pdu.sender,
      authIds: [...referencedEventIds(pdu.auth_events)],
      inState,
    });
  }

  /**
   * An event that failed its checks. Rooms are full of member events of servers that are gone and
   * whose keys can no longer be had: those are left out of the state (as Synapse does). The events
   * the room's rules stand on are not: without them the join is refused (throws).
   */
  addFailed(raw: unknown, inState: boolean, fault: string): void {
    if (this.faults.length < 3) this.faults.push(fault);
    if (!inState) return;
    const type = isJsonObject(raw) ? raw.type : undefined;
    if (typeof type === 'string' && ESSENTIAL_STATE_TYPES.has(type)) throw new Error(`send_join state event ${type} refused: ${fault}`);
    this.droppedState++;
  }

  get size(): number {
    return this.held.size;
  }

  /** The room creator (for the room record), from the checked create event. */
  creator(): string | undefined {
    for (const event of this.held.values()) if (event.type === 'm.room.create' && event.stateKey === '') return event.sender;
    return undefined;
  }

  isState(eventId: string): boolean {
    return this.held.get(eventId)?.inState ?? false;
  }

  typeOf(eventId: string): string | undefined {
    return this.held.get(eventId)?.type;
  }

  /**
   * Every held event id, each after its auth events (those among the held ones): outliers are
   * checked against their stored auth events. Iterative: auth chains are long.
   */
  authOrder(): string[] {
    // rooms/v12: the create event is not listed in auth_events but authorises every other event.
    const createId = this.rules.createEventInAuthEvents ? undefined : '$' + this.roomId.slice(1);
    const placed = new Set<string>();
    const visiting = new Set<string>();
    const order: string[] = [];
    for (const start of this.held.keys()) {
      const stack: [string, boolean][] = [[start, false]];
      while (stack.length > 0) {
        const [id, expanded] = stack.pop()!;
        if (placed.has(id)) continue;
        if (expanded) {
          placed.add(id);
          order.push(id);
          continue;
        }
        if (visiting.has(id)) continue;
        visiting.add(id);
        stack.push([id, true]);
        const event = this.held.get(id)!;
        const deps = createId !== undefined && event.type !== 'm.room.create' ? [...event.authIds, createId] : event.authIds;
        for (const authId of deps) if (this.held.has(authId) && !placed.has(authId)) stack.push([authId, false]);
      }
    }
    return order;
  }

  /**
   * The checked event, parsed again from its text; its text is let go (it is stored next, and
   * the join needs only its type and state key afterwards).
   */
  take(eventId: string): RoomEvent {
    const held = this.held.get(eventId);
    if (held?.text === undefined) throw new Error(`event ${eventId} is not held`);
    const pdu = JSON.parse(held.text) as Pdu;
    held.text = undefined;
    return { event_id: eventId, room_id: this.roomId, pdu };
  }

  /** An event of the state that failed its auth chain: it leaves the state. */
  leaveOutOfState(eventId: string): void {
    const held = this.held.get(eventId);
    if (held?.inState) {
      held.inState = false;
      this.droppedState++;
    }
  }

  /** The state before the join: every state event still in it, by type and state key. */
  stateMap(): StateIdMap {
    const state: StateIdMap = new Map();
    for (const [id, event] of this.held) {
      if (event.inState && event.stateKey !== undefined) state.set(stateKey(event.type, event.stateKey), id);
    }
    return state;
  }
}
