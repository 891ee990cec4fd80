/**
 * The orderings of rooms/v2 "State resolution" -> "Definitions": power events, the reverse
 * topological power ordering and the mainline ordering.
 */
import type { RoomEvent } from '../core/types.js';
import { authEventIds } from '../core/event-references.js';
import { foldAuthAncestry } from './auth-dag.js';
import { getUserPowerLevel } from './power-levels.js';
import { JOIN_RULES, MEMBER, POWER_LEVELS } from './room-state.js';
import type { ResolutionContext } from './state-res-context.js';
import { authStateOfEvent, requireEvent } from './state-res-context.js';

/**
 * "Power events": power levels, join rules, and member events with membership leave or ban
 * whose sender is not the target (kicks and bans) - the events that can take abilities away.
 */
function isPowerEvent(event: RoomEvent): boolean {
  const { type, state_key: stateKeyValue, sender, content } = event.pdu;
  if (stateKeyValue === undefined) return false;
  if (type === POWER_LEVELS || type === JOIN_RULES) return stateKeyValue === '';
  if (type === MEMBER) return (content.membership === 'leave' || content.membership === 'ban') && sender !== stateKeyValue;
  return false;
}

/**
 * Algorithm step 1's set X: the power events among `fullConflicted`, enlarged by every event of
 * their auth chains that is also in `fullConflicted`. Returned with the auth edges between its
 * members (each event's nearest ancestors in the set, looking through events outside it), which
 * is the DAG the power ordering sorts.
 */
export function powerEventsWithAuthEdges(fullConflicted: ReadonlySet<string>, ctx: ResolutionContext): Map<string, Set<string>> {
  // For any event: the members of the full conflicted set nearest to it through auth_events,
  // itself if it is a member.
  const nearestMembers = new Map<string, Set<string>>();
  const membersAtOrAbove = (id: string) =>
    foldAuthAncestry(
      id,
      ctx.getEvent,
      nearestMembers,
      (candidate) => (fullConflicted.has(candidate) ? new Set([candidate]) : undefined),
      (_candidate, parents) => new Set(parents.flatMap((set) => [...set])),
    );
  const graph = new Map<string, Set<string>>();
  const pending = [...fullConflicted].filter((id) => isPowerEvent(requireEvent(id, ctx)));
  while (pending.length > 0) {
    const id = pending.pop() as string;
    if (graph.has(id)) continue;
    const parents = new Set<string>();
    for (const authId of authEventIds(requireEvent(id, ctx).pdu)) {
      for (const member of membersAtOrAbove(authId)) parents.add(member);
    }
    graph.set(id, parents);
    pending.push(...parents);
  }
  return graph;
}

/**
 * "Reverse topological power ordering": Kahn's algorithm over `graph` (event -> its auth events
 * in the graph), auth events first, choosing at each step the smallest ready event where x < y if
 *   1. x's sender has the greater power level, judged by x's and y's own auth events, or
 *   2. x's origin_server_ts is smaller, or
 *   3. x's event_id is smaller.
 */
export function reverseTopologicalPowerOrder(graph: ReadonlyMap<string, ReadonlySet<string>>, ctx: ResolutionContext): string[] {
  const sortKeys = new Map<string, PowerSortKey>();
  for (const id of graph.keys()) {
    const event = requireEvent(id, ctx);
    const senderPower = getUserPowerLevel(event.pdu.sender, authStateOfEvent(event, ctx), ctx.rules);
    sortKeys.set(id, { id, senderPower, ts: event.pdu.origin_server_ts });
  }
  // Kahn: count each event's unprocessed auth events; an event is ready when that reaches zero.
  const waitingOn = new Map<string, number>();
  const dependents = new Map<string, string[]>();
  for (const [id, parents] of graph) {
    waitingOn.set(id, parents.size);
    for (const parent of parents) {
      const list = dependents.get(parent);
      if (list) list.push(id);
      else dependents.set(parent, [id]);
    }
  }
  const ready = new SortedQueue<PowerSortKey>(comparePowerSortKeys);
  for (const [id, count] of waitingOn) if (count === 0) ready.push(sortKeys.get(id) as PowerSortKey);
  const order: string[] = [];
  while (ready.size > 0) {
    const { id } = ready.shift();
    order.push(id);
    for (const dependent of dependents.get(id) ?? []) {
      const remaining = (waitingOn.get(dependent) as number) - 1;
      waitingOn.set(dependent, remaining);
      if (remaining === 0) ready.push(sortKeys.get(dependent) as PowerSortKey);
    }
  }
  return order;
}

interface PowerSortKey {
  id: string;
  /** Infinity for v12 room creators. */
  senderPower: number;
  ts: number;
}

function comparePowerSortKeys(x: PowerSortKey, y: PowerSortKey): number {
  if (x.senderPower !== y.senderPower) return x.senderPower > y.senderPower ? -1 : 1;
  if (x.ts !== y.ts) return x.ts - y.ts;
  return compareIds(x.id, y.id);
}

/**
 * "Mainline ordering" of `eventIds` based on the power levels event `powerLevelsId` (none: every
 * mainline position is infinite). x < y if
 *   1. x's mainline position is greater (its power levels ancestry meets the mainline earlier), or
 *   2. x's origin_server_ts is smaller, or
 *   3. x's event_id is smaller.
 */
export function mainlineOrder(eventIds: Iterable<string>, powerLevelsId: string | undefined, ctx: ResolutionContext): string[] {
  // The mainline [P0, P1, ..., Pn]: P(i+1) is the power levels event among P(i)'s auth events.
  const mainlineIndex = new Map<string, number>();
  for (let id = powerLevelsId, i = 0; id !== undefined; id = powerLevelsAuthEvent(id, ctx), i++) {
    if (mainlineIndex.has(id)) break; // a forged cycle; the mainline ends where it repeats
    mainlineIndex.set(id, i);
  }
  // The mainline position of e: the index of the first of e1, e2, ... (e's power levels auth
  // event, its power levels auth event, ...) on the mainline; infinite if none is.
  const positionOf = (eventId: string): number => {
    const visited = new Set<string>();
    for (let id = powerLevelsAuthEvent(eventId, ctx); id !== undefined && !visited.has(id); id = powerLevelsAuthEvent(id, ctx)) {
      visited.add(id);
      const index = mainlineIndex.get(id);
      if (index !== undefined) return index;
    }
    return Infinity;
  };
  const keys = [...eventIds].map((id) => ({ id, position: positionOf(id), ts: requireEvent(id, ctx).pdu.origin_server_ts }));
  keys.sort((x, y) => {
    if (x.position !== y.position) return x.position > y.position ? -1 : 1;
    if (x.ts !== y.ts) return x.ts - y.ts;
    return compareIds(x.id, y.id);
  });
  return keys.map((key) => key.id);
}

/** The id of the `m.room.power_levels` event among an event's auth events, if any. */
function powerLevelsAuthEvent(eventId: string, ctx: ResolutionContext): string | undefined {
  const event = ctx.getEvent(eventId);
  for (const authId of event ? authEventIds(event.pdu) : []) {
    const authEvent = ctx.getEvent(authId);
    if (authEvent?.pdu.type === POWER_LEVELS && authEvent.pdu.state_key === '') return authId;
  }
  return undefined;
}

/** Event ids compare by code point; they are ASCII, so UTF-16 order is the same. */
function compareIds(x: string, y: string): number {
  return x < y ? -1 : x > y ? 1 : 0;
}

/** A queue kept sorted by insertion (binary search); shift() takes the smallest. */
class SortedQueue<T> {
  private readonly items: T[] = [];
  constructor(private readonly compare: (a: T, b: T) => number) {}

  get size(): number {
    return this.items.length;
  }

  push(item: T): void {
    let low = 0;
    let high = this.items.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (this.compare(this.items[mid] as T, item) <= 0) low = mid + 1;
      else high = mid;
    }
    this.items.splice(low, 0, item);
  }

  shift(): T {
    return this.items.shift() as T;
  }
}
