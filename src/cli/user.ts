/**
 * `hearth user add NAME [--admin] [--password P]`: creates a Matrix account and prints its user id
 * (and the password when one was generated). With the gateway stopped the command opens the
 * database itself; while the gateway runs (database locked) it asks the running server over its
 * admin socket, whose server side is `userAdminHandlers`.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { AccountService } from '../accounts/accounts.js';
import { loadConfig, type HearthConfig } from '../config/config.js';
import { settleServerName } from '../app/server-name.js';
import { StreamNotifier } from '../stream/notifier.js';
import { Database } from '../storage/db.js';
import { adminSocketPath, callAdminSocket } from './admin-socket.js';

/** The admin-socket request of `user add` (served by `userAdminHandlers`). */
export interface UserAddRequest {
  op: 'user.add';
  /** A localpart, or a full user id of this server. */
  name: string;
  password: string;
  admin: boolean;
}

export interface UserAddResult {
  userId: string;
}

/** Server side of the user ops, for the gateway to register on its admin socket. */
export function userAdminHandlers(accounts: Pick<AccountService, 'createUser' | 'serverName'>): {
  'user.add': (request: UserAddRequest) => Promise<UserAddResult>;
} {
  return {
    'user.add': async (request) => {
      if (typeof request.name !== 'string' || typeof request.password !== 'string') {
        throw new Error('user.add needs a name and a password');
      }
      const user = await accounts.createUser(localpartOf(request.name, accounts.serverName), {
        password: request.password,
        admin: request.admin === true,
      });
      return { userId: user.userId };
    },
  };
}

/** Accepts `alice` or `@alice:server` (this server only). */
function localpartOf(name: string, serverName: string): string {
  if (!name.startsWith('@')) return name;
  const colon = name.indexOf(':');
  if (colon < 0 || name.slice(colon + 1) !== serverName) throw new Error(`${name} is not a user id of ${serverName}`);
  return name.slice(1, colon);
}

export interface UserCommandContext {
  config: HearthConfig;
  out(line: string): void;
  err(line: string): void;
}

const USAGE = 'usage: hearth user add NAME [--admin] [--password P]';

/** Runs `hearth user ...` (argv after `user`); returns the process exit code. */
export async function runUserCommand(argv: string[], context?: Partial<UserCommandContext>): Promise<number> {
  const out = context?.out ?? ((line: string) => process.stdout.write(`${line}\n`));
  const err = context?.err ?? ((line: string) => process.stderr.write(`${line}\n`));
  const parsed = parseAdd(argv);
  if (!parsed) {
    err(USAGE);
    return 2;
  }
  const config = context?.config ?? loadConfig();
  // 18 random bytes: 24 characters, well beyond guessing, still typeable from a printout.
  const password = parsed.password ?? randomBytes(18).toString('base64url');
  const request: UserAddRequest = { op: 'user.add', name: parsed.name, password, admin: parsed.admin };
  try {
    const result = await addUser(config, request);
    out(result.userId);
    if (parsed.password === undefined) out(`password: ${password}`);
    return 0;
  } catch (e) {
    err(`hearth user add: ${(e as Error).message}`);
    return 1;
  }
}

function parseAdd(argv: string[]): { name: string; admin: boolean; password?: string } | undefined {
  const [sub, ...rest] = argv;
  if (sub !== 'add') return undefined;
  let name: string | undefined;
  let admin = false;
  let password: string | undefined;
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i]!;
    if (arg === '--admin') admin = true;
    else if (arg === '--password') {
      password = rest[++i];
      if (password === undefined || password === '') return undefined;
    } else if (arg.startsWith('--password=')) password = arg.slice('--password='.length);
    else if (!arg.startsWith('-') && name === undefined) name = arg;
    else return undefined;
  }
  return name === undefined ? undefined : { name, admin, ...(password !== undefined ? { password } : {}) };
}

/**
 * Opens the database directly when the gateway is stopped; when the gateway holds it (LevelDB's
 * lock), the running server does the work through the admin socket.
 */
async function addUser(config: HearthConfig, request: UserAddRequest): Promise<UserAddResult> {
  let db: Database;
  try {
    db = await Database.open(join(config.dataDir, 'db'), config.storage);
  } catch (e) {
    if (!(e as Error).message.includes('in use by another process')) throw e;
    return (await callAdminSocket(adminSocketPath(config.dataDir), request)) as UserAddResult;
  }
  try {
    // The account's user id carries the server name the data directory is bound to.
    const named = { ...config, serverName: await settleServerName(db, config) };
    // Creating an account takes no stream position, so the notifier's start position is irrelevant.
    const accounts = new AccountService(db, named, new StreamNotifier(0));
    return await userAdminHandlers(accounts)['user.add'](request);
  } finally {
    await db.close();
  }
}
