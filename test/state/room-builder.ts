/**
 * Hand-built room DAGs for the auth rules and state resolution tests. Event ids are readable
 * fakes (`$ban`); nothing here hashes or signs, because the code under test does neither. Depth
 * is one more than the deepest prev event (state resolution v1 orders by it).
 */
import type { EventReference, JsonObject, RoomEvent, StateEventMap, StateIdMap } from '../../src/core/types.js';
import { stateKey } from '../../src/core/types.js';
import type { RoomVersionId } from '../../src/core/types.js';
import type { RoomVersionRules } from '../../src/core/room-versions.js';
import { getRoomVersionRules } from '../../src/core/room-versions.js';
import { selectAuthEvents } from '../../src/state/auth-events.js';
import { checkEventAuth } from '../../src/state/auth-rules.js';

export const ALICE = '@alice:a.test';
export const BOB = '@bob:b.test';
export const CAROL = '@carol:c.test';
export const DAVE = '@dave:d.test';

export interface EventSpec {
  type: string;
  sender: string;
  content: JsonObject;
  stateKey?: string;
  /** Defaults to one more than the previous event built. */
  ts?: number;
}

/** One line of history: the events at its tip and the state after them. */
export interface Branch {
  head: string[];
  state: StateIdMap;
}

export class TestRoom {
  readonly events = new Map<string, RoomEvent>();
  readonly rules: RoomVersionRules;
  readonly roomId: string;
  private clock = 1000;

  constructor(version: RoomVersionId) {
    const rules = getRoomVersionRules(version);
    if (!rules) throw new Error(`unknown room version ${version}`);
    this.rules = rules;
    this.roomId = rules.roomIdIsCreateEventHash ? '!create' : '!room:a.test';
  }

  readonly getEvent = (id: string): RoomEvent | undefined => this.events.get(id);

  /** The events of a branch's state, as the auth rules want them. */
  stateEvents(branch: Branch): StateEventMap {
    const map: StateEventMap = new Map();
    for (const [key, id] of branch.state) map.set(key, this.events.get(id) as RoomEvent);
    return map;
  }

  /** Builds an event on top of `branch` (auth events picked from its state) without applying it. */
  build(branch: Branch, id: string, spec: EventSpec): RoomEvent {
    const isCreate = spec.type === 'm.room.create';
    const authEvents = isCreate
      ? []
      : selectAuthEvents(spec.type, spec.stateKey, spec.sender, spec.content, this.stateEvents(branch), this.rules);
    this.clock = spec.ts ?? this.clock + 1;
    // rooms/v1 "Event format": v1/v2 events name their prev and auth events with hashes (fake
    // ones here: nothing checks them); from v3 bare ids.
    const references = (ids: readonly string[]): EventReference[] =>
      this.rules.eventIdFormat === 'server-generated' ? ids.map((ref): EventReference => [ref, { sha256: 'fake' }]) : [...ids];
    const depth = Math.max(0, ...branch.head.map((ref) => this.events.get(ref)?.pdu.depth ?? 0)) + 1;
    const event: RoomEvent = {
      event_id: id,
      room_id: this.roomId,
      pdu: {
        auth_events: references(authEvents),
        content: spec.content,
        depth,
        hashes: { sha256: '' },
        origin_server_ts: this.clock,
        prev_events: references(branch.head),
        ...(isCreate && this.rules.roomIdIsCreateEventHash ? {} : { room_id: this.roomId }),
        sender: spec.sender,
        signatures: {},
        ...(spec.stateKey === undefined ? {} : { state_key: spec.stateKey }),
        type: spec.type,
      },
    };
    return event;
  }

  /** Builds an event, requires the auth rules to allow it against the branch's state, and applies it. */
  append(branch: Branch, id: string, spec: EventSpec): RoomEvent {
    const event = this.build(branch, id, spec);
    const verdict = checkEventAuth(event, this.stateEvents(branch), this.rules);
    if (!verdict.allowed) throw new Error(`test setup: ${id} rejected: ${verdict.reason}`);
    this.add(event);
    branch.head = [id];
    if (spec.stateKey !== undefined) branch.state.set(stateKey(spec.type, spec.stateKey), id);
    return event;
  }

  /** Stores an event without any check (e.g. one built for a rejection test). */
  add(event: RoomEvent): void {
    this.events.set(event.event_id, event);
  }

  /**
   * The usual start of a room: create (`$create`), the creator's join (`$alice`), power levels
   * (`$pl`) and join rules (`$jr`).
   */
  start(options: { joinRule?: string; users?: JsonObject; createContent?: JsonObject; powerLevels?: JsonObject } = {}): Branch {
    const branch: Branch = { head: [], state: new Map() };
    const createContent: JsonObject = {
      room_version: this.rules.id,
      ...(this.rules.createContentHasCreator ? { creator: ALICE } : {}),
      ...options.createContent,
    };
    this.append(branch, '$create', { type: 'm.room.create', stateKey: '', sender: ALICE, content: createContent });
    this.append(branch, '$alice', member(ALICE, 'join'));
    const users = options.users ?? (this.rules.creatorsHaveInfinitePower ? {} : { [ALICE]: 100 });
    this.append(branch, '$pl', powerLevels(ALICE, { users, ...options.powerLevels }));
    this.append(branch, '$jr', joinRules(ALICE, options.joinRule ?? 'public'));
    return branch;
  }
}

export function fork(branch: Branch): Branch {
  return { head: [...branch.head], state: new Map(branch.state) };
}

export function member(target: string, membership: string, sender = target, extra: JsonObject = {}): EventSpec {
  return { type: 'm.room.member', stateKey: target, sender, content: { membership, ...extra } };
}

export function powerLevels(sender: string, content: JsonObject): EventSpec {
  return { type: 'm.room.power_levels', stateKey: '', sender, content };
}

export function joinRules(sender: string, joinRule: string): EventSpec {
  return { type: 'm.room.join_rules', stateKey: '', sender, content: { join_rule: joinRule } };
}

export function topic(sender: string, text: string, ts?: number): EventSpec {
  return { type: 'm.room.topic', stateKey: '', sender, content: { topic: text }, ...(ts === undefined ? {} : { ts }) };
}

/** A state map keyed by readable `type|state_key` pairs, for exact assertions. */
export function readable(state: StateIdMap): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, id] of [...state].sort(([a], [b]) => (a < b ? -1 : 1))) out[key.replace('\u0000', '|')] = id;
  return out;
}

/** The state sets of `branches` resolved to one state map (a resolution algorithm under test). */
export type Resolver = (sets: StateIdMap[], getEvent: TestRoom['getEvent'], rules: RoomVersionRules) => StateIdMap;

/**
 * Resolves `branches` with `forward`, and again in the reverse order with `backward` (the same
 * algorithm by default): the two must agree, the result may not depend on the order of the sets.
 */
export function resolveBothOrders(room: TestRoom, branches: Branch[], forward: Resolver, backward: Resolver = forward): Record<string, string> {
  const one = forward(branches.map((branch) => branch.state), room.getEvent, room.rules);
  const other = backward([...branches].reverse().map((branch) => branch.state), room.getEvent, room.rules);
  if (JSON.stringify(readable(one)) !== JSON.stringify(readable(other))) {
    throw new Error('resolution depends on the order of the state sets');
  }
  return readable(one);
}

/** A room of `version`: Alice 100, Bob 50 (a moderator), Carol 0; everyone joined. */
export function moderatedRoom(version: RoomVersionId): { room: TestRoom; base: Branch } {
  const room = new TestRoom(version);
  const base = room.start({ users: { [ALICE]: 100, [BOB]: 50 } });
  room.append(base, '$bob', member(BOB, 'join'));
  room.append(base, '$carol', member(CAROL, 'join'));
  return { room, base };
}

/** The resolved state of {@link moderatedRoom} before any branch changes it, readable. */
export const MODERATED_ROOM_STATE: Readonly<Record<string, string>> = {
  'm.room.create|': '$create',
  'm.room.join_rules|': '$jr',
  [`m.room.member|${ALICE}`]: '$alice',
  [`m.room.member|${BOB}`]: '$bob',
  [`m.room.member|${CAROL}`]: '$carol',
  'm.room.power_levels|': '$pl',
};
