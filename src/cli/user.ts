/**
 * `hearth user ...` (docs/cli.md):
 * - `add NAME [--admin] [--password P]`: creates a Matrix account and prints its user id (and the
 *   password when one was generated);
 * - `list [--json]`: every account with its admin flag, kind (person or MQTT device) and whether
 *   it is deactivated;
 * - `reset-password NAME [--password P]`: a new password (printed when generated); on a running
 *   gateway every device of the account is logged out, as Synapse's admin reset does by default;
 * - `deactivate NAME`: as the Client-Server `/account/deactivate`: the account leaves its rooms,
 *   and password, profile, devices and tokens are gone for good; the user id is never handed out
 *   again.
 * Removing a device is more than an account write: its end-to-end keys go and its device list
 * change is announced (e2ee/, federation), which only the assembled gateway does. So with the
 * gateway stopped, `reset-password` changes the password and keeps the sessions (the command says
 * so), and `deactivate` asks for the gateway to be started.
 * With the gateway stopped the command opens the database itself; while the gateway runs (database
 * locked) it asks the running server over its admin socket, whose server side is `userAdminHandlers`.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { AccountService } from '../accounts/accounts.js';
import { loadConfig, type HearthConfig } from '../config/config.js';
import { settleServerName } from '../app/server-name.js';
import { StreamNotifier } from '../stream/notifier.js';
import { lastStreamPosition } from '../stream/stream-position.js';
import { Database } from '../storage/db.js';
import { adminSocketPath, callAdminSocket } from '../admin/socket.js';

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

export interface UserListResult {
  users: { userId: string; admin: boolean; kind: 'user' | 'device'; deactivated: boolean }[];
}

export interface UserResetPasswordRequest {
  op: 'user.reset-password';
  name: string;
  password: string;
}

export interface UserDeactivateRequest {
  op: 'user.deactivate';
  name: string;
}

export interface UserDeactivateResult {
  userId: string;
}

export interface UserResetPasswordResult {
  userId: string;
  /** Whether the account's devices were logged out (only a running gateway does). */
  loggedOut: boolean;
}

type UserRequest = UserAddRequest | { op: 'user.list' } | UserResetPasswordRequest | UserDeactivateRequest;

type UserAccounts = Pick<AccountService, 'createUser' | 'serverName' | 'listUsers' | 'getUser' | 'setPassword' | 'deactivate'>;

/**
 * Server side of the user ops, for the gateway to register on its admin socket. `leaveAllRooms`
 * (the gateway's, as `/account/deactivate` uses) makes a deactivated account leave its rooms.
 */
export function userAdminHandlers(
  accounts: UserAccounts,
  opts: { leaveAllRooms: (userId: string) => Promise<void>; offline?: false } | { offline: true },
): {
  'user.add': (request: UserAddRequest) => Promise<UserAddResult>;
  'user.list': () => Promise<UserListResult>;
  'user.reset-password': (request: UserResetPasswordRequest) => Promise<UserResetPasswordResult>;
  'user.deactivate': (request: UserDeactivateRequest) => Promise<UserDeactivateResult>;
} {
  /** The user id of an existing, active account named by `name`. */
  const activeUser = async (name: unknown): Promise<string> => {
    if (typeof name !== 'string') throw new Error('a user name is needed');
    const userId = `@${localpartOf(name, accounts.serverName)}:${accounts.serverName}`;
    const user = await accounts.getUser(userId);
    if (!user) throw new Error(`no account ${userId}`);
    if (user.deactivated) throw new Error(`${userId} is deactivated`);
    return userId;
  };
  return {
    'user.list': async () => ({
      users: (await accounts.listUsers())
        .map((u) => ({ userId: u.userId, admin: u.admin === true, kind: u.kind, deactivated: u.deactivated === true }))
        .sort((a, b) => a.userId.localeCompare(b.userId)),
    }),
    'user.reset-password': async (request) => {
      if (typeof request.password !== 'string' || request.password === '') throw new Error('user.reset-password needs a password');
      const userId = await activeUser(request.name);
      const logoutDevices = !opts.offline;
      await accounts.setPassword(userId, request.password, { logoutDevices });
      return { userId, loggedOut: logoutDevices };
    },
    'user.deactivate': async (request) => {
      if (opts.offline) throw new Error('deactivation leaves rooms and removes devices with their keys, which the running gateway does: start it, then run this again');
      const userId = await activeUser(request.name);
      // Rooms first, as /account/deactivate does: leaving needs the account still active.
      if (!opts.offline) await opts.leaveAllRooms(userId);
      await accounts.deactivate(userId);
      return { userId };
    },
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

const USAGE = `usage: hearth user add NAME [--admin] [--password P]
       hearth user list [--json]
       hearth user reset-password NAME [--password P]
       hearth user deactivate NAME`;

/** Runs `hearth user ...` (argv after `user`); returns the process exit code. */
export async function runUserCommand(argv: string[], context?: Partial<UserCommandContext>): Promise<number> {
  const out = context?.out ?? ((line: string) => process.stdout.write(`${line}\n`));
  const err = context?.err ?? ((line: string) => process.stderr.write(`${line}\n`));
  const parsed = parseUserCommand(argv);
  if (!parsed) {
    err(USAGE);
    return 2;
  }
  const config = context?.config ?? loadConfig();
  // 18 random bytes: 24 characters, well beyond guessing, still typeable from a printout.
  const password = parsed.password ?? randomBytes(18).toString('base64url');
  try {
    switch (parsed.sub) {
      case 'add': {
        const result = (await runUserOp(config, { op: 'user.add', name: parsed.name!, password, admin: parsed.admin })) as UserAddResult;
        out(result.userId);
        if (parsed.password === undefined) out(`password: ${password}`);
        return 0;
      }
      case 'list': {
        const { users } = (await runUserOp(config, { op: 'user.list' })) as UserListResult;
        if (parsed.json) out(JSON.stringify(users, null, 2));
        else if (users.length === 0) out('no accounts');
        else for (const u of users) out(`${u.userId}\t${u.kind === 'device' ? 'device' : 'person'}${u.admin ? '\tadmin' : ''}${u.deactivated ? '\tdeactivated' : ''}`);
        return 0;
      }
      case 'reset-password': {
        const result = (await runUserOp(config, { op: 'user.reset-password', name: parsed.name!, password })) as UserResetPasswordResult;
        out(result.userId);
        if (parsed.password === undefined) out(`password: ${password}`);
        if (!result.loggedOut) out('the gateway was stopped: sessions already logged in stay logged in');
        return 0;
      }
      case 'deactivate': {
        const result = (await runUserOp(config, { op: 'user.deactivate', name: parsed.name! })) as UserDeactivateResult;
        out(`${result.userId} deactivated (rooms left; password, devices and access tokens removed)`);
        return 0;
      }
    }
  } catch (e) {
    err(`hearth user ${parsed.sub}: ${(e as Error).message}`);
    return 1;
  }
}

interface ParsedUserCommand {
  sub: 'add' | 'list' | 'reset-password' | 'deactivate';
  name?: string;
  admin: boolean;
  json: boolean;
  password?: string;
}

/** What each subcommand accepts: a NAME, and which flags. */
const SUBCOMMANDS: Record<ParsedUserCommand['sub'], { name: boolean; flags: string[] }> = {
  add: { name: true, flags: ['--admin', '--password'] },
  list: { name: false, flags: ['--json'] },
  'reset-password': { name: true, flags: ['--password'] },
  deactivate: { name: true, flags: [] },
};

function parseUserCommand(argv: string[]): ParsedUserCommand | undefined {
  const [sub, ...rest] = argv;
  if (sub === undefined || !Object.hasOwn(SUBCOMMANDS, sub)) return undefined;
  const spec = SUBCOMMANDS[sub as ParsedUserCommand['sub']];
  const parsed: ParsedUserCommand = { sub: sub as ParsedUserCommand['sub'], admin: false, json: false };
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i]!;
    const flag = arg.startsWith('--password=') ? '--password' : arg;
    if (arg.startsWith('-') && !spec.flags.includes(flag)) return undefined;
    if (arg === '--admin') parsed.admin = true;
    else if (arg === '--json') parsed.json = true;
    else if (arg === '--password') {
      parsed.password = rest[++i];
      if (parsed.password === undefined || parsed.password === '') return undefined;
    } else if (arg.startsWith('--password=')) parsed.password = arg.slice('--password='.length);
    else if (spec.name && parsed.name === undefined) parsed.name = arg;
    else return undefined;
  }
  if (spec.name && parsed.name === undefined) return undefined;
  if (parsed.password === '') return undefined;
  return parsed;
}

/**
 * Opens the database directly when the gateway is stopped; when the gateway holds it (LevelDB's
 * lock), the running server does the work through the admin socket.
 */
async function runUserOp(config: HearthConfig, request: UserRequest): Promise<unknown> {
  let db: Database;
  try {
    db = await Database.open(join(config.dataDir, 'db'), config.storage);
  } catch (e) {
    if (!(e as Error).message.includes('in use by another process')) throw e;
    return callAdminSocket(adminSocketPath(config.dataDir), request);
  }
  try {
    // The account's user id carries the server name the data directory is bound to.
    const named = { ...config, serverName: await settleServerName(db, config) };
    // The notifier's start position: the stream's head, since a deactivation logs devices out
    // (device list changes take stream positions).
    const accounts = new AccountService(db, named, new StreamNotifier(await lastStreamPosition(db)));
    const handlers = userAdminHandlers(accounts, { offline: true });
    switch (request.op) {
      case 'user.add':
        return await handlers['user.add'](request);
      case 'user.list':
        return await handlers['user.list']();
      case 'user.reset-password':
        return await handlers['user.reset-password'](request);
      case 'user.deactivate':
        return await handlers['user.deactivate'](request);
    }
  } finally {
    await db.close();
  }
}
