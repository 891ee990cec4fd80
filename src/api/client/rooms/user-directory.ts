/**
 * POST /_matrix/client/v3/user_directory/search (client-server "User Directory"): what invite
 * dialogs search. As Synapse by default (`search_all_users: false`), the directory holds the users
 * who share a joined room with the requester and the members of rooms in the public directory; names
 * and avatars are those of their member events (profile changes are propagated there).
 */
import type { FastifyInstance } from 'fastify';
import { ErrCode, MatrixError } from '../../../core/errors.js';
import type { RoomApiDeps } from './deps.js';
import { requireObjectBody, requireString } from './params.js';

const DEFAULT_LIMIT = 10;
const MAX_LIMIT = 50;

interface DirectoryEntry {
  user_id: string;
  display_name?: string;
  avatar_url?: string;
}

/** Words of a name or user id, lower-cased: `@Kitchen.Plug:home` -> kitchen, plug, home. */
function wordsOf(text: string): string[] {
  return text.toLowerCase().split(/[^\p{L}\p{N}]+/u).filter((w) => w !== '');
}

/** Every word of the search term must start a word of the user id or the display name (Synapse matches prefixes too). */
function matches(entry: DirectoryEntry, termWords: string[]): boolean {
  const words = [...wordsOf(entry.user_id), ...wordsOf(entry.display_name ?? '')];
  return termWords.every((t) => words.some((w) => w.startsWith(t)));
}

export function registerUserDirectoryRoutes(app: FastifyInstance, deps: RoomApiDeps): void {
  app.post('/_matrix/client/v3/user_directory/search', async (req) => {
    const user = await deps.requireUser(req);
    const body = requireObjectBody(req.body);
    const term = requireString(body, 'search_term');
    const limit = body.limit ?? DEFAULT_LIMIT;
    if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 0) throw new MatrixError(400, ErrCode.BAD_JSON, 'limit must be a non-negative integer');
    const termWords = wordsOf(term);

    const joined = (await deps.engine.roomsOf(user.userId)).filter((m) => m.membership === 'join').map((m) => m.roomId);
    const rooms = new Set([...joined, ...(await deps.directory.publicRooms())]);
    const entries = new Map<string, DirectoryEntry>();
    for (const roomId of rooms) {
      if (!deps.engine.room(roomId)) continue;
      for (const event of (await deps.engine.currentState(roomId)).values()) {
        const { pdu } = event;
        if (pdu.type !== 'm.room.member' || pdu.content.membership !== 'join' || pdu.state_key === undefined || entries.has(pdu.state_key)) continue;
        const entry: DirectoryEntry = { user_id: pdu.state_key };
        if (typeof pdu.content.displayname === 'string') entry.display_name = pdu.content.displayname;
        if (typeof pdu.content.avatar_url === 'string') entry.avatar_url = pdu.content.avatar_url;
        entries.set(pdu.state_key, entry);
      }
    }
    const found = [...entries.values()]
      .filter((e) => matches(e, termWords))
      .sort((a, b) => (a.display_name ?? a.user_id).localeCompare(b.display_name ?? b.user_id) || a.user_id.localeCompare(b.user_id));
    return { results: found.slice(0, Math.min(limit, MAX_LIMIT)), limited: found.length > Math.min(limit, MAX_LIMIT) };
  });
}
