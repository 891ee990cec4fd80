/**
 * Ignored users (client-server "Ignoring Users"): the `m.ignored_user_list` account data event,
 * `{ ignored_users: { "<user id>": {} } }`. Read on each request that needs it, so a change applies
 * to the very next sync ("the sync API for all clients should immediately start ignoring").
 */
import type { JsonObject } from '../core/types.js';
import { isJsonObject } from '../core/json-object.js';
import type { AccountDataService } from './account-data.js';

export const IGNORED_USER_LIST = 'm.ignored_user_list';

/** The user ids an `m.ignored_user_list` content names (malformed content ignores nobody). */
export function ignoredUsersIn(content: JsonObject | undefined): Set<string> {
  const users = content?.ignored_users;
  return new Set(isJsonObject(users) ? Object.keys(users).filter((id) => id.startsWith('@')) : []);
}

export function ignoredUsersLookup(accountData: Pick<AccountDataService, 'get'>): (userId: string) => Promise<ReadonlySet<string>> {
  return async (userId) => ignoredUsersIn(await accountData.get(userId, '', IGNORED_USER_LIST));
}
