/**
 * State resolution v2 (rooms/v2 "State resolution", used unchanged by room versions 2 to 11)
 * and v2.1 (rooms/v12 "State resolution"); room version 1's algorithm is state-resolution-v1.ts,
 * which `resolveState` hands v1 rooms to. Pure: every event it touches, auth chains included,
 * comes from `getEvent`, which the caller fills beforehand.
 */
import type { StateIdMap, StateKey } from '../core/types.js';
import type { RoomVersionRules } from '../core/room-versions.js';
import type { EventLookup } from './auth-dag.js';
import { iterativeAuthChecks } from './iterative-auth-checks.js';
import { POWER_LEVELS_KEY } from './room-state.js';
import type { ResolutionContext } from './state-res-context.js';
import { mainlineOrder, powerEventsWithAuthEdges, reverseTopologicalPowerOrder } from './state-res-ordering.js';
import { authDifference, conflictedStateSubgraph, partitionStateSets } from './state-res-sets.js';
import { resolveStateV1 } from './state-resolution-v1.js';

export { authChain } from './auth-dag.js';
export type { EventLookup } from './auth-dag.js';

export interface ResolveStateOptions {
  /** Events rejected by the auth rules; their use as auth events is skipped (rooms/v2 "Rejected events"). */
  isRejected?: (eventId: string) => boolean;
}

/** The resolution of a set of states (the state maps after each of an event's prev_events). */
export function resolveState(
  stateSets: readonly ReadonlyMap<StateKey, string>[],
  getEvent: EventLookup,
  rules: RoomVersionRules,
  options: ResolveStateOptions = {},
): StateIdMap {
  if (rules.stateResolution === 'v1') return resolveStateV1(stateSets, getEvent, rules);
  const ctx: ResolutionContext = { getEvent, rules, isRejected: options.isRejected ?? (() => false) };

  // Definitions: the unconflicted state map and the conflicted state set.
  const { unconflicted, conflicted } = partitionStateSets(stateSets);
  if (conflicted.size === 0) return unconflicted;

  // The full conflicted set: the conflicted state set, the auth difference, and (v2.1) the
  // conflicted state subgraph. Events the caller could not provide cannot take part.
  const fullConflicted = new Set([...conflicted, ...authDifference(stateSets, getEvent)]);
  if (rules.stateResolution === 'v2.1') {
    for (const id of conflictedStateSubgraph(conflicted, getEvent)) fullConflicted.add(id);
  }
  for (const id of fullConflicted) if (!getEvent(id)) fullConflicted.delete(id);

  // 1. X: the power events of the full conflicted set with the parts of their auth chains inside
  //    it, sorted by the reverse topological power ordering.
  const powerGraph = powerEventsWithAuthEdges(fullConflicted, ctx);
  const powerOrder = reverseTopologicalPowerOrder(powerGraph, ctx);

  // 2. Iterative auth checks over that list, starting from the unconflicted state map (v2) or
  //    from an empty state map (v2.1).
  const start: StateIdMap = rules.stateResolution === 'v2.1' ? new Map() : unconflicted;
  const partial = iterativeAuthChecks(start, powerOrder, ctx);

  // 3. The remaining events, in mainline ordering based on the partially resolved power levels.
  const remaining = [...fullConflicted].filter((id) => !powerGraph.has(id));
  const remainingOrder = mainlineOrder(remaining, partial.get(POWER_LEVELS_KEY), ctx);

  // 4. Iterative auth checks over those, starting from the partially resolved state.
  const resolved = iterativeAuthChecks(partial, remainingOrder, ctx);

  // 5. The unconflicted state map wins wherever it has a key.
  for (const [key, id] of unconflicted) resolved.set(key, id);
  return resolved;
}
