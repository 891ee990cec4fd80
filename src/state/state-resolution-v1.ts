/**
 * State resolution v1, room version 1 only (rooms/v1 "State resolution"). Known to reset state
 * (the spec's own warning); implemented because rooms of version 1 still exist and every server
 * in one must resolve its forks the same way. Pure: every event comes from `getEvent`.
 *
 * The algorithm, with R the resolution so far:
 * 1. R starts as the union of the states, without the conflicting keys. A conflict is two states
 *    holding different event ids for one `(type, state_key)`; a key only some states hold is not one.
 * 2. `m.room.power_levels`, then each conflicted `m.room.join_rules`, then each conflicted
 *    `m.room.member` key: the candidates sorted by ascending depth, then descending sha1(event_id);
 *    the first goes into R, and each next one replaces it while it passes the auth rules against R;
 *    the first that fails ends that key.
 * 3. Every other conflicted key: the candidate of highest depth, then lowest sha1(event_id), that
 *    passes the auth rules against R. When none passes, the one of lowest depth (Synapse does the
 *    same; the spec leaves it open, and servers must agree).
 */
import { createHash } from 'node:crypto';
import type { RoomEvent, StateEventMap, StateIdMap, StateKey } from '../core/types.js';
import { splitStateKey } from '../core/types.js';
import type { RoomVersionRules } from '../core/room-versions.js';
import type { EventLookup } from './auth-dag.js';
import { checkEventAuth } from './auth-rules.js';
import { JOIN_RULES, MEMBER, POWER_LEVELS_KEY } from './room-state.js';

export function resolveStateV1(stateSets: readonly ReadonlyMap<StateKey, string>[], getEvent: EventLookup, rules: RoomVersionRules): StateIdMap {
  // 1. Unconflicted keys, and the candidates of each conflicted key.
  const unconflicted: StateIdMap = new Map();
  const conflicted = new Map<StateKey, Set<string>>();
  for (const stateSet of stateSets) {
    for (const [key, id] of stateSet) {
      const candidates = conflicted.get(key);
      if (candidates) {
        candidates.add(id);
        continue;
      }
      const held = unconflicted.get(key);
      if (held === undefined) unconflicted.set(key, id);
      else if (held !== id) {
        conflicted.set(key, new Set([held, id]));
        unconflicted.delete(key);
      }
    }
  }
  if (conflicted.size === 0) return unconflicted;

  const resolved: StateIdMap = new Map(unconflicted);
  // R as events, for the auth checks; kept in step with `resolved`.
  const authState: StateEventMap = new Map();
  for (const [key, id] of unconflicted) {
    const event = getEvent(id);
    if (event) authState.set(key, event);
  }
  const settle = (key: StateKey, event: RoomEvent) => {
    resolved.set(key, event.event_id);
    authState.set(key, event);
  };
  const candidatesOf = (key: StateKey): RoomEvent[] =>
    [...conflicted.get(key)!].map((id) => getEvent(id)).filter((event): event is RoomEvent => event !== undefined);

  // 2. The auth-relevant types, in the spec's order: power levels, join rules, members.
  const authKeys: StateKey[] = [];
  if (conflicted.has(POWER_LEVELS_KEY)) authKeys.push(POWER_LEVELS_KEY);
  for (const type of [JOIN_RULES, MEMBER]) {
    for (const key of conflicted.keys()) if (splitStateKey(key)[0] === type) authKeys.push(key);
  }
  for (const key of authKeys) {
    const ordered = candidatesOf(key).sort(ascendingDepthDescendingHash);
    const [first, ...rest] = ordered;
    if (!first) continue;
    settle(key, first);
    for (const event of rest) {
      if (!checkEventAuth(event, authState, rules).allowed) break;
      settle(key, event);
    }
  }

  // 3. Everything else: the first that passes in descending depth, ascending hash order.
  const settled = new Set(authKeys);
  for (const key of conflicted.keys()) {
    if (settled.has(key)) continue;
    const ordered = candidatesOf(key).sort(ascendingDepthDescendingHash).reverse();
    const chosen = ordered.find((event) => checkEventAuth(event, authState, rules).allowed) ?? ordered.at(-1);
    if (chosen) settle(key, chosen);
  }
  return resolved;
}

/** sha1 of the event id, hex: the tie-break of rooms/v1 "State resolution". */
function sha1Hex(eventId: string): string {
  return createHash('sha1').update(eventId, 'utf8').digest('hex');
}

/** Ascending `depth`, then descending sha1(event_id). */
function ascendingDepthDescendingHash(a: RoomEvent, b: RoomEvent): number {
  if (a.pdu.depth !== b.pdu.depth) return a.pdu.depth - b.pdu.depth;
  const ha = sha1Hex(a.event_id);
  const hb = sha1Hex(b.event_id);
  return ha < hb ? 1 : ha > hb ? -1 : 0;
}
