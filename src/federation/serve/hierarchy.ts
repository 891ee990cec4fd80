/**
 * `GET /_matrix/federation/v1/hierarchy/{roomId}` (server-server "Spaces"): a space and its direct
 * children as this server knows them, for another server walking a hierarchy on its user's
 * behalf. A room is described to a server when it could preview it: public, knockable or
 * restricted join rules, world-readable history, or one of the server's users joined. Rooms that
 * do not federate are never described; they are listed as inaccessible like any room the
 * requester may not see.
 */
import { forbidden, notFound } from '../../core/errors.js';
import { serverNameOf } from '../../core/identifiers.js';
import { stateKey, type JsonObject } from '../../core/types.js';
import type { RoomEngine, StoredStateMap } from '../../rooms/engine.js';
import { roomSummary } from '../../rooms/room-summary.js';
import { historyVisibilityOf } from '../../state/history-visibility.js';
import { roomFederates } from '../../state/room-state.js';
import type { SpaceChild } from '../../state/space-children.js';
import { childrenOf as spaceChildrenOf } from '../../rooms/space-hierarchy.js';

const PREVIEWABLE_JOIN_RULES = new Set(['public', 'knock', 'knock_restricted', 'restricted']);

function mayServerPreview(origin: string, state: StoredStateMap): boolean {
  if (!roomFederates(state)) return false;
  const rule = state.get(stateKey('m.room.join_rules', ''))?.pdu.content.join_rule;
  if (typeof rule === 'string' && PREVIEWABLE_JOIN_RULES.has(rule)) return true;
  if (historyVisibilityOf(state.get(stateKey('m.room.history_visibility', ''))?.pdu.content) === 'world_readable') return true;
  for (const event of state.values()) {
    if (event.pdu.type === 'm.room.member' && event.pdu.content.membership === 'join' && serverNameOf(event.pdu.state_key ?? '') === origin) return true;
  }
  return false;
}

function childrenOf(state: StoredStateMap, suggestedOnly: boolean): (SpaceChild & { sender: string })[] {
  const children = spaceChildrenOf(state);
  return suggestedOnly ? children.filter((c) => c.content.suggested === true) : children;
}

export async function federationHierarchy(engine: RoomEngine, origin: string, roomId: string, suggestedOnly: boolean): Promise<JsonObject> {
  const room = engine.room(roomId);
  if (!room || !engine.headOf(roomId)?.extremities.length) throw notFound(`Unknown room ${roomId}`);
  const state = await engine.currentState(roomId);
  if (!mayServerPreview(origin, state)) throw forbidden(`${origin} may not preview ${roomId}`);
  const children = childrenOf(state, suggestedOnly);
  const described: JsonObject[] = [];
  const inaccessible: string[] = [];
  for (const child of children.slice(0, 100)) {
    const childRoom = engine.room(child.roomId);
    if (!childRoom || !engine.headOf(child.roomId)?.extremities.length) continue;
    const childState = await engine.currentState(child.roomId);
    if (!mayServerPreview(origin, childState)) {
      inaccessible.push(child.roomId);
      continue;
    }
    described.push({
      ...roomSummary(child.roomId, childRoom.version, childState),
      children_state: childrenOf(childState, false).map((c) => ({ type: 'm.space.child', state_key: c.roomId, content: c.content, sender: c.sender, origin_server_ts: c.originServerTs })),
    });
  }
  return {
    room: {
      ...roomSummary(roomId, room.version, state),
      children_state: children.map((c) => ({ type: 'm.space.child', state_key: c.roomId, content: c.content, sender: c.sender, origin_server_ts: c.originServerTs })),
    },
    children: described,
    inaccessible_children: inaccessible,
  };
}
