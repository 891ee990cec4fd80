/**
 * The sets state resolution starts from: rooms/v2 "State resolution" -> "Definitions"
 * (unconflicted state map and conflicted state set, auth difference) and rooms/v12's addition,
 * the conflicted state subgraph.
 */
import type { StateIdMap, StateKey } from '../core/types.js';
import type { EventLookup } from './auth-dag.js';
import { authChain, foldAuthAncestry } from './auth-dag.js';

export interface PartitionedState {
  /** Keys present in every state set with the same event. */
  unconflicted: StateIdMap;
  /** Every event of every other key, from whichever sets have one. */
  conflicted: Set<string>;
}

/** "Unconflicted state map and conflicted state set." */
export function partitionStateSets(stateSets: readonly ReadonlyMap<StateKey, string>[]): PartitionedState {
  const unconflicted: StateIdMap = new Map();
  const conflicted = new Set<string>();
  const keys = new Set(stateSets.flatMap((set) => [...set.keys()]));
  for (const key of keys) {
    const values = stateSets.map((set) => set.get(key));
    const first = values[0];
    if (first !== undefined && values.every((value) => value === first)) {
      unconflicted.set(key, first);
    } else {
      for (const value of values) if (value !== undefined) conflicted.add(value);
    }
  }
  return { unconflicted, conflicted };
}

/**
 * "Auth difference": with C_i the union of the auth chains of the events of state set i, the
 * events in some C_i but not in all of them.
 */
export function authDifference(stateSets: readonly ReadonlyMap<StateKey, string>[], getEvent: EventLookup): Set<string> {
  const chains = stateSets.map((set) => authChain(set.values(), getEvent));
  const difference = new Set<string>();
  for (const chain of chains) {
    for (const id of chain) {
      if (!chains.every((other) => other.has(id))) difference.add(id);
    }
  }
  return difference;
}

/**
 * rooms/v12 "Conflicted state subgraph": every event on an `auth_events` path from one event of
 * the conflicted state set to another, endpoints included. An event is on such a path when a
 * conflicted event reaches it (it is in their auth chain, or conflicted itself) and it reaches a
 * conflicted event (it is one, or one of its auth events does).
 */
export function conflictedStateSubgraph(conflicted: ReadonlySet<string>, getEvent: EventLookup): Set<string> {
  const reachedFromConflicted = authChain(conflicted, getEvent);
  for (const id of conflicted) reachedFromConflicted.add(id);
  const reachesConflicted = new Map<string, boolean>();
  const subgraph = new Set<string>();
  for (const id of reachedFromConflicted) {
    const onPath = foldAuthAncestry(
      id,
      getEvent,
      reachesConflicted,
      (candidate) => (conflicted.has(candidate) ? true : undefined),
      (_candidate, parents) => parents.some(Boolean),
    );
    if (onPath) subgraph.add(id);
  }
  return subgraph;
}
