/**
 * A room described for people who may not be in it: the public room directory's chunk
 * (client-server "Published room directory", `public_rooms_chunk.yaml`) and the space hierarchy's
 * room summary (`room_summary.yaml`), both read from the current state.
 */
import { splitStateKey, stateKey, type JsonObject } from '../core/types.js';
import type { StoredStateMap } from './engine.js';

/** `PublishedRoomsChunk` fields of a room. */
export function publicRoomChunk(roomId: string, state: StoredStateMap): JsonObject {
  const content = (type: string) => state.get(stateKey(type, ''))?.pdu.content;
  let joined = 0;
  for (const [key, ev] of state) if (splitStateKey(key)[0] === 'm.room.member' && ev.pdu.content.membership === 'join') joined++;
  const entry: JsonObject = {
    room_id: roomId,
    num_joined_members: joined,
    world_readable: content('m.room.history_visibility')?.history_visibility === 'world_readable',
    guest_can_join: content('m.room.guest_access')?.guest_access === 'can_join',
    join_rule: (content('m.room.join_rules')?.join_rule as string | undefined) ?? 'invite',
  };
  const name = content('m.room.name')?.name;
  const topic = content('m.room.topic')?.topic;
  const alias = content('m.room.canonical_alias')?.alias;
  const avatar = content('m.room.avatar')?.url;
  const roomType = content('m.room.create')?.type;
  if (typeof name === 'string') entry.name = name;
  if (typeof topic === 'string') entry.topic = topic;
  if (typeof alias === 'string') entry.canonical_alias = alias;
  if (typeof avatar === 'string') entry.avatar_url = avatar;
  if (typeof roomType === 'string') entry.room_type = roomType;
  return entry;
}

/** `RoomSummary`: the directory chunk plus the room version, encryption and a restricted room's allowed rooms. */
export function roomSummary(roomId: string, version: string, state: StoredStateMap): JsonObject {
  const summary = publicRoomChunk(roomId, state);
  summary.room_version = version;
  const algorithm = state.get(stateKey('m.room.encryption', ''))?.pdu.content.algorithm;
  if (typeof algorithm === 'string') summary.encryption = algorithm;
  const allowed = allowedRoomIds(state.get(stateKey('m.room.join_rules', ''))?.pdu.content);
  if (allowed.length > 0) summary.allowed_room_ids = allowed;
  return summary;
}

/** The rooms whose members may join a `restricted` / `knock_restricted` room (client-server "Restricted rooms"). */
export function allowedRoomIds(joinRules: JsonObject | undefined): string[] {
  if (!joinRules || (joinRules.join_rule !== 'restricted' && joinRules.join_rule !== 'knock_restricted')) return [];
  const allow = joinRules.allow;
  if (!Array.isArray(allow)) return [];
  const out: string[] = [];
  for (const entry of allow) {
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) continue;
    const e = entry as JsonObject;
    if (e.type === 'm.room_membership' && typeof e.room_id === 'string') out.push(e.room_id);
  }
  return out;
}
