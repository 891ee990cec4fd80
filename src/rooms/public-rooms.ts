/**
 * The public room list (client-server "Listing rooms"; server-server "Public Room Directory"):
 * the rooms published in the directory, largest first, paged by an offset token. The same list
 * answers local clients and other servers; other servers never see rooms that do not federate.
 */
import { ErrCode, MatrixError } from '../core/errors.js';
import type { JsonObject } from '../core/types.js';
import type { RoomEngine } from './engine.js';
import type { RoomDirectory } from './room-directory.js';
import { publicRoomChunk } from './room-summary.js';
import { roomFederates } from '../state/room-state.js';

export interface PublicRoomsQuery {
  limit: number;
  since?: string;
  /** `filter.generic_search_term`: a case-insensitive substring of name, topic or alias. */
  term?: string;
  /** For another server: leave out rooms created with `m.federate: false`. */
  federatingOnly?: boolean;
}

export async function listPublicRooms(engine: RoomEngine, directory: RoomDirectory, query: PublicRoomsQuery): Promise<JsonObject> {
  const all: JsonObject[] = [];
  for (const roomId of await directory.publicRooms()) {
    if (!engine.room(roomId) || !engine.headOf(roomId)?.extremities.length) continue;
    const state = await engine.currentState(roomId);
    if (query.federatingOnly && !roomFederates(state)) continue;
    const entry = publicRoomChunk(roomId, state);
    if (query.term) {
      const hay = `${entry.name ?? ''} ${entry.topic ?? ''} ${entry.canonical_alias ?? ''}`.toLowerCase();
      if (!hay.includes(query.term.toLowerCase())) continue;
    }
    all.push(entry);
  }
  // Largest rooms first, as Synapse orders them; room id breaks ties so pages are stable.
  all.sort((a, b) => (b.num_joined_members as number) - (a.num_joined_members as number) || String(a.room_id).localeCompare(String(b.room_id)));
  const start = query.since ? Number(/^p(\d+)$/.exec(query.since)?.[1] ?? NaN) : 0;
  if (!Number.isInteger(start)) throw new MatrixError(400, ErrCode.INVALID_PARAM, 'Invalid since token');
  const chunk = all.slice(start, start + query.limit);
  const body: JsonObject = { chunk, total_room_count_estimate: all.length };
  if (start + query.limit < all.length) body.next_batch = `p${start + query.limit}`;
  if (start > 0) body.prev_batch = `p${Math.max(0, start - query.limit)}`;
  return body;
}
