/**
 * The `summary` of a joined room in /sync (client-server "Syncing", `RoomSummary`): member counts,
 * and the heroes a client names an unnamed room after.
 */
import { splitStateKey, stateKey, type JsonObject } from '../core/types.js';
import type { StoredEvent, StoredStateMap } from './engine.js';

/** "This should be the first 5 members of the room". */
const HEROES = 5;

export function syncRoomSummary(state: StoredStateMap, userId: string): JsonObject {
  const current: StoredEvent[] = [];
  const gone: StoredEvent[] = [];
  let joined = 0;
  let invited = 0;
  for (const [key, ev] of state) {
    const [type, member] = splitStateKey(key);
    if (type !== 'm.room.member') continue;
    const membership = ev.pdu.content.membership;
    if (membership === 'join') joined++;
    if (membership === 'invite') invited++;
    if (member === userId) continue; // "The list must never include the client's own user ID."
    if (membership === 'join' || membership === 'invite') current.push(ev);
    else if (membership === 'leave' || membership === 'ban') gone.push(ev);
  }
  const summary: JsonObject = { 'm.joined_member_count': joined, 'm.invited_member_count': invited };
  // Heroes are "required if the room's m.room.name or m.room.canonical_alias state events are unset
  // or empty"; Synapse (`compute_summary`) sends them only then, and clients rely on their absence.
  if (nonEmpty(state, 'm.room.name', 'name') || nonEmpty(state, 'm.room.canonical_alias', 'alias')) return summary;
  // "ordered by stream ordering, which are joined or invited ... When no joined or invited members
  // are available, this should consist of the banned and left users."
  const candidates = current.length > 0 ? current : gone;
  summary['m.heroes'] = candidates
    .sort((a, b) => a.meta.stream - b.meta.stream)
    .slice(0, HEROES)
    .map((ev) => ev.pdu.state_key ?? '');
  return summary;
}

function nonEmpty(state: StoredStateMap, type: string, field: string): boolean {
  const value = state.get(stateKey(type, ''))?.pdu.content[field];
  return typeof value === 'string' && value !== '';
}
