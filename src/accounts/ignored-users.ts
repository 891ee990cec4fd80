/**
 * Ignored users (client-server "Ignoring Users"): the `m.ignored_user_list` account data event,
 * `{ ignored_users: { "<user id>": {} } }`. Asked for on every sync, every room read and, for each
 * recipient, every event counted or pushed, so the lists are cached in memory; a change replaces the
 * cached list before its stream position settles, so the very next sync applies it ("the sync API
 * for all clients should immediately start ignoring").
 */
import type { JsonObject } from '../core/types.js';
import { isJsonObject } from '../core/json-object.js';
import { LruCache } from '../storage/lru.js';
import type { AccountDataService } from './account-data.js';

export const IGNORED_USER_LIST = 'm.ignored_user_list';

/** The user ids an `m.ignored_user_list` content names (malformed content ignores nobody). */
export function ignoredUsersIn(content: JsonObject | undefined): Set<string> {
  const users = content?.ignored_users;
  return new Set(isJsonObject(users) ? Object.keys(users).filter((id) => id.startsWith('@')) : []);
}

/** Lists kept: the users active on a home gateway, with room to spare. */
const CACHED_USERS = 256;

export function ignoredUsersLookup(accountData: Pick<AccountDataService, 'get' | 'onChange'>): (userId: string) => Promise<ReadonlySet<string>> {
  const cache = new LruCache<string, Promise<ReadonlySet<string>>>(CACHED_USERS);
  accountData.onChange((userId, roomId, type) => {
    if (roomId === '' && type === IGNORED_USER_LIST) cache.delete(userId);
  });
  return (userId) => {
    let list = cache.get(userId);
    if (!list) {
      list = accountData.get(userId, '', IGNORED_USER_LIST).then(ignoredUsersIn);
      cache.set(userId, list);
      // A failed read is not remembered.
      list.catch(() => cache.delete(userId));
    }
    return list;
  };
}
