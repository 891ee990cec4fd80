/**
 * The aliases an `m.room.canonical_alias` event lists must lead to its room (client-server
 * "PUT /rooms/{roomId}/state/{eventType}/{stateKey}": a server SHOULD check that every new alias
 * is valid and points to the room, and does not check aliases being removed or already present;
 * Synapse: `EventCreationHandler._validate_canonical_alias`). And deleting an alias takes it out
 * of that event (Synapse: `DirectoryHandler._update_canonical_alias`).
 */
import { ErrCode, MatrixError } from '../core/errors.js';
import { isValidRoomAlias } from '../core/identifiers.js';
import type { JsonObject } from '../core/types.js';
import type { RoomEngine } from './engine.js';

/** The room an alias names (ours from the directory, another server's asked of it), or undefined. */
export type AliasResolver = (alias: string) => Promise<string | undefined>;

/**
 * The aliases `content` lists that `previous` (the event it replaces) did not: the spec leaves
 * the others unchecked, so a room keeps working when an old alias is gone.
 */
export function addedAliases(content: JsonObject, previous: JsonObject | undefined): string[] {
  const added = new Set<string>();
  const alias = content.alias;
  // An empty or absent alias means "no canonical alias" (the event schema); nothing to check.
  if (typeof alias === 'string' && alias !== '' && alias !== previous?.alias) added.add(alias);
  // Synapse replaces a previous `alt_aliases` of an unknown form entirely: all entries are new.
  const before = new Set(Array.isArray(previous?.alt_aliases) ? previous.alt_aliases : []);
  if (Array.isArray(content.alt_aliases)) {
    for (const alt of content.alt_aliases) if (typeof alt === 'string' && !before.has(alt)) added.add(alt);
  }
  return [...added];
}

/**
 * Refuses content adding an alias with bad syntax (400 M_INVALID_PARAM) or one that does not
 * resolve to `roomId` (400 M_BAD_ALIAS), as the spec's 400 answer of the state endpoint lists.
 */
export async function checkCanonicalAliases(content: JsonObject, previous: JsonObject | undefined, roomId: string, resolve: AliasResolver): Promise<void> {
  for (const alias of addedAliases(content, previous)) {
    if (!isValidRoomAlias(alias)) throw new MatrixError(400, ErrCode.INVALID_PARAM, `Invalid room alias ${alias}`);
    if ((await resolve(alias)) !== roomId) throw new MatrixError(400, ErrCode.BAD_ALIAS, `Room alias ${alias} does not point to the room`);
  }
}

/**
 * The canonical alias content without `alias` (from `alias` and from `alt_aliases`), or undefined
 * when it did not list it. A now empty `alt_aliases` is dropped, as Synapse does.
 */
export function contentWithoutAlias(content: JsonObject, alias: string): JsonObject | undefined {
  const next: JsonObject = { ...content };
  let changed = false;
  if (content.alias === alias) {
    delete next.alias;
    changed = true;
  }
  // An `alt_aliases` of an unexpected form is left as it is (Synapse likewise).
  const alt = content.alt_aliases;
  if (Array.isArray(alt) && alt.includes(alias)) {
    const kept = alt.filter((a) => a !== alias);
    if (kept.length > 0) next.alt_aliases = kept;
    else delete next.alt_aliases;
    changed = true;
  }
  return changed ? next : undefined;
}

/**
 * After `alias` left the directory: a new m.room.canonical_alias without it, sent by `userId` (the
 * deleting user, as Synapse does). The spec recommends the deletion succeed even when that user
 * may not update the event (client-server "DELETE /directory/room/{roomAlias}"): the auth rules'
 * refusal is swallowed and the event keeps the alias.
 */
export async function dropFromCanonicalAlias(engine: Pick<RoomEngine, 'room' | 'stateEvent' | 'sendEvent'>, roomId: string, alias: string, userId: string): Promise<void> {
  if (!engine.room(roomId)) return;
  const current = await engine.stateEvent(roomId, 'm.room.canonical_alias', '');
  const content = current && contentWithoutAlias(current.pdu.content, alias);
  if (!content) return;
  try {
    await engine.sendEvent(roomId, { type: 'm.room.canonical_alias', state_key: '', sender: userId, content });
  } catch (err) {
    if (err instanceof MatrixError && err.errcode === ErrCode.FORBIDDEN) return;
    throw err;
  }
}
