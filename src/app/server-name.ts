/**
 * The server name belongs to the data directory. User ids (`@alice:<server name>`), room ids, event
 * signatures and other servers' memory of us all carry it, so a data directory served under another
 * name is a broken server: its users can no longer log in (issue 14: the same `./data` started with
 * another HEARTH_CLIENT_PORT became `localhost:38008`, as the default name follows the client port).
 *
 * So the first start records the name in the database (`meta/server_name`); later starts use it:
 * - no server name configured (the default, localhost:<client port>): the recorded name is used;
 * - a configured name (hearth.yaml `server_name`, HEARTH_SERVER_NAME) that differs: refused, naming
 *   both names and what to change.
 * A data directory from before the record was kept is named by its accounts (all local).
 */
import type { HearthConfig } from '../config/config.js';
import { serverNameOf } from '../core/identifiers.js';
import { decodeJson } from '../storage/codec.js';
import type { Database } from '../storage/db.js';
import type { UserRecord } from '../storage/accounts.js';

const META_KEY = 'server_name';

export class ServerNameMismatchError extends Error {
  constructor(
    readonly recorded: string,
    readonly configured: string,
    config: Pick<HearthConfig, 'serverNameSource' | 'dataDir'>,
  ) {
    const where =
      config.serverNameSource === 'environment' ? `HEARTH_SERVER_NAME is "${configured}"` : `server_name in ${config.dataDir}/hearth.yaml is "${configured}"`;
    const fix =
      config.serverNameSource === 'environment'
        ? `set HEARTH_SERVER_NAME=${recorded} (or unset it)`
        : `set server_name: "${recorded}" in ${config.dataDir}/hearth.yaml (or remove the line)`;
    super(
      `the data directory ${config.dataDir} belongs to the server name "${recorded}", but ${where}. ` +
        `User ids and rooms carry the server name, so it cannot change once chosen: ${fix}, ` +
        `or start a new server name with an empty data directory.`,
    );
    this.name = 'ServerNameMismatchError';
  }
}

/**
 * The server name to run under, from the data directory's record and the configuration; records it
 * when the data directory has none. Throws ServerNameMismatchError for a configured name that
 * differs from the recorded one.
 */
export async function settleServerName(db: Database, config: Pick<HearthConfig, 'serverName' | 'serverNameSource' | 'dataDir'>): Promise<string> {
  const stored = await db.getMeta<string>(META_KEY);
  const recorded = stored ?? (await nameOfExistingAccounts(db));
  const name = recorded ?? config.serverName;
  if (recorded !== undefined && recorded !== config.serverName && config.serverNameSource !== 'default') {
    throw new ServerNameMismatchError(recorded, config.serverName, config);
  }
  if (stored === undefined) await db.write([db.putMeta(META_KEY, name)]);
  return name;
}

/** The server part of any stored account's user id: every account in `users` is local. */
async function nameOfExistingAccounts(db: Database): Promise<string | undefined> {
  for await (const value of db.space('users').values({ limit: 1 })) {
    return serverNameOf(decodeJson<UserRecord>(value).userId);
  }
  return undefined;
}
