/**
 * The space hierarchy (client-server "Spaces", `GET /rooms/{roomId}/hierarchy`): a depth-first walk
 * from a space through its `m.space.child` events, returning the rooms the user may see or join,
 * each with its summary and its own child events. Only rooms this server knows are described (no
 * federation yet: unknown children are left out, as rooms the server cannot see).
 *
 * Pages are stateless: the walk is deterministic for a given state, so a page token names how many
 * rooms were already returned (with the walk's `max_depth` and `suggested_only`, which may not
 * change between pages), and the next page walks again and skips those.
 */
import { splitStateKey, stateKey, type JsonObject } from '../core/types.js';
import { historyVisibilityOf } from '../state/history-visibility.js';
import { isValidSpaceChild, orderSpaceChildren, type SpaceChild } from '../state/space-children.js';
import type { RoomEngine, StoredStateMap } from './engine.js';
import { allowedRoomIds, roomSummary } from './room-summary.js';

export interface HierarchyQuery {
  limit: number;
  maxDepth: number;
  suggestedOnly: boolean;
  /** Rooms of the walk already returned by earlier pages. */
  skip: number;
}

export interface HierarchyPage {
  rooms: JsonObject[];
  /** Rooms returned so far including this page, when more remain. */
  nextSkip?: number;
}

/** Bound on rooms visited per request (loops are skipped; very large trees are cut). */
const MAX_VISITED = 2000;

/**
 * Whether the user may see a room in a hierarchy ("The server should return any rooms where at
 * least one of the following conditions is true"): joined or invited; public or knockable join
 * rules; restricted with a membership in an allowed room; world-readable history.
 */
export async function mayPreviewInHierarchy(engine: RoomEngine, userId: string, roomId: string, state: StoredStateMap): Promise<boolean> {
  const membership = await engine.membershipOf(userId, roomId);
  if (membership === 'join' || membership === 'invite') return true;
  const joinRules = state.get(stateKey('m.room.join_rules', ''))?.pdu.content;
  const rule = joinRules?.join_rule;
  if (rule === 'public' || rule === 'knock' || rule === 'knock_restricted') return true;
  for (const allowed of allowedRoomIds(joinRules)) {
    if (engine.room(allowed) && (await engine.isJoined(userId, allowed))) return true;
  }
  return historyVisibilityOf(state.get(stateKey('m.room.history_visibility', ''))?.pdu.content) === 'world_readable';
}

export async function spaceHierarchy(engine: RoomEngine, userId: string, rootId: string, query: HierarchyQuery): Promise<HierarchyPage> {
  const rooms: JsonObject[] = [];
  const visited = new Set<string>();
  // Depth-first: a stack of rooms to visit, children pushed in reverse so the first child comes next.
  const stack: { roomId: string; depth: number }[] = [{ roomId: rootId, depth: 0 }];
  let seen = 0;
  while (stack.length > 0 && visited.size < MAX_VISITED) {
    const { roomId, depth } = stack.pop()!;
    if (visited.has(roomId)) continue;
    visited.add(roomId);
    const room = engine.room(roomId);
    if (!room) continue;
    const state = await engine.currentState(roomId);
    if (!(await mayPreviewInHierarchy(engine, userId, roomId, state))) continue;

    const children = childrenOf(state).filter((c) => !query.suggestedOnly || c.content.suggested === true);
    if (seen++ >= query.skip) {
      if (rooms.length >= query.limit) return { rooms, nextSkip: query.skip + rooms.length };
      rooms.push({
        ...roomSummary(roomId, room.version, state),
        children_state: children.map((c) => ({ type: 'm.space.child', state_key: c.roomId, content: c.content, sender: c.sender, origin_server_ts: c.originServerTs })),
      });
    }
    if (depth < query.maxDepth) {
      for (const child of [...children].reverse()) if (!visited.has(child.roomId)) stack.push({ roomId: child.roomId, depth: depth + 1 });
    }
  }
  return { rooms };
}

/** The valid `m.space.child` events of a room, in the spec's order (also what federation's `hierarchy` lists). */
export function childrenOf(state: StoredStateMap): (SpaceChild & { sender: string })[] {
  const children: (SpaceChild & { sender: string })[] = [];
  for (const [key, event] of state) {
    const [type, roomId] = splitStateKey(key);
    if (type !== 'm.space.child' || !isValidSpaceChild(event.pdu.content)) continue;
    children.push({ roomId, content: event.pdu.content, originServerTs: event.pdu.origin_server_ts, sender: event.pdu.sender });
  }
  return orderSpaceChildren(children);
}
