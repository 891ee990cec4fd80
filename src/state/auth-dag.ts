/**
 * Walks over the graph that `auth_events` links form (rooms/v2 "State resolution" ->
 * "Definitions" -> "Auth chain"). Iterative, never recursive: auth chains are as deep as the room
 * is old, far deeper than the JavaScript stack.
 */
import type { RoomEvent } from '../core/types.js';
import { authEventIds } from '../core/event-references.js';

/** Looks an event up by id; undefined when the caller does not have it. */
export type EventLookup = (eventId: string) => RoomEvent | undefined;

/** The ids of the events named in `auth_events` of an event (none when the event is unknown). */
function authParents(eventId: string, getEvent: EventLookup): readonly string[] {
  const event = getEvent(eventId);
  return event ? authEventIds(event.pdu) : [];
}

/**
 * The auth chain of a set of events: every event reachable through `auth_events`, recursively,
 * not counting the starting events themselves unless another starting event reaches them.
 * Events `getEvent` does not know end the walk on that branch.
 */
export function authChain(eventIds: Iterable<string>, getEvent: EventLookup): Set<string> {
  const chain = new Set<string>();
  const pending: string[] = [];
  for (const id of eventIds) pending.push(...authParents(id, getEvent));
  while (pending.length > 0) {
    const id = pending.pop() as string;
    if (chain.has(id)) continue;
    chain.add(id);
    pending.push(...authParents(id, getEvent));
  }
  return chain;
}

/**
 * Computes a value for `startId` defined bottom-up over the auth graph:
 * `value(id) = leafValue(id) ?? combine(id, value of each auth parent)`.
 * Results are kept in `memo` so many calls sharing one memo visit each event once. A cycle
 * (only possible in forged input) is cut by treating the repeated event as having no parents.
 */
export function foldAuthAncestry<T>(
  startId: string,
  getEvent: EventLookup,
  memo: Map<string, T>,
  leafValue: (id: string) => T | undefined,
  combine: (id: string, parentValues: T[]) => T,
): T {
  const onPath = new Set<string>();
  const stack: Array<{ id: string; expanded: boolean }> = [{ id: startId, expanded: false }];
  while (stack.length > 0) {
    const frame = stack.pop() as { id: string; expanded: boolean };
    const { id } = frame;
    if (memo.has(id)) continue;
    const leaf = leafValue(id);
    if (leaf !== undefined) {
      memo.set(id, leaf);
      continue;
    }
    const parents = authParents(id, getEvent);
    if (!frame.expanded) {
      if (onPath.has(id)) {
        memo.set(id, combine(id, []));
        continue;
      }
      onPath.add(id);
      stack.push({ id, expanded: true });
      for (const parent of parents) if (!memo.has(parent)) stack.push({ id: parent, expanded: false });
      continue;
    }
    onPath.delete(id);
    const values: T[] = [];
    for (const parent of parents) {
      const value = memo.get(parent);
      if (value !== undefined) values.push(value);
    }
    memo.set(id, combine(id, values));
  }
  return memo.get(startId) as T;
}
