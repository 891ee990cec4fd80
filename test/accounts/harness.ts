/**
 * An account-side Client-Server API over a real LevelDB in a temp dir: every service of
 * src/accounts and every route module of this area, wired the way the gateway wires them.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import type { FastifyInstance } from 'fastify';
import { AccountDataService } from '../../src/accounts/account-data.js';
import { AccountService, type Profile } from '../../src/accounts/accounts.js';
import { FilterService } from '../../src/accounts/filters.js';
import { PushRulesService } from '../../src/accounts/push-rules.js';
import { ReceiptService } from '../../src/accounts/receipts.js';
import { ToDeviceService } from '../../src/accounts/to-device.js';
import { TypingManager } from '../../src/accounts/typing.js';
import { UserInteractiveAuth } from '../../src/accounts/uia.js';
import { defaultConfig, type HearthConfig, type RegistrationMode } from '../../src/config/config.js';
import { createAuthenticator } from '../../src/http/auth.js';
import { registerAccountApi } from '../../src/app/account-api.js';
import { createHttpServer } from '../../src/http/server.js';
import { StreamNotifier } from '../../src/stream/notifier.js';
import { Database } from '../../src/storage/db.js';

export const SERVER_NAME = 'hearth.test';
export const SHARED_SECRET = 'a-shared-secret';

export interface Harness {
  app: FastifyInstance;
  db: Database;
  config: HearthConfig;
  notifier: StreamNotifier;
  accounts: AccountService;
  accountData: AccountDataService;
  pushRules: PushRulesService;
  filters: FilterService;
  toDevice: ToDeviceService;
  receipts: ReceiptService;
  typing: TypingManager;
  /** `user ‖ room` pairs the fake room engine reports as joined. */
  joined: Set<string>;
  profileChanges: Array<{ userId: string; profile: Profile }>;
  /** Users the account routes asked to leave all their rooms (deactivation), in order. */
  leftAllRooms: string[];
  /** `user device` of every device the accounts service reported deleted. */
  deletedDevices: string[];
  /** `user device` of every device the accounts service reported created or renamed, in order. */
  changedDevices: string[];
  call(method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, opts?: { body?: unknown; token?: string }): Promise<{ status: number; body: any }>;
  /** Creates an account and logs it in. */
  user(localpart: string, password?: string): Promise<{ userId: string; token: string; deviceId: string }>;
  close(): Promise<void>;
}

export async function startHarness(mode: RegistrationMode = 'open', tokens: string[] = [], overrides: Partial<HearthConfig> = {}): Promise<Harness> {
  const dir = await mkdtemp(join(tmpdir(), 'hearth-accounts-'));
  const db = await Database.open(join(dir, 'db'), { cacheSizeBytes: 1 << 20, writeBufferSizeBytes: 1 << 20 });
  const base = defaultConfig(dir);
  const config: HearthConfig = {
    ...base,
    serverName: SERVER_NAME,
    client: { ...base.client, publicBaseUrl: 'https://hearth.test/' },
    registration: { mode, tokens, sharedSecret: SHARED_SECRET },
    ...overrides,
  };
  const notifier = new StreamNotifier(0);
  const deletedDevices: string[] = [];
  const changedDevices: string[] = [];
  const accounts = new AccountService(db, config, notifier, {
    onDeviceChanged: async (userId, deviceId) => {
      changedDevices.push(`${userId} ${deviceId}`);
    },
    onDeviceDeleted: async (userId, deviceId) => {
      deletedDevices.push(`${userId} ${deviceId}`);
    },
  });
  const pushRules = new PushRulesService(db, notifier);
  const accountData = new AccountDataService(db, notifier, pushRules);
  const filters = new FilterService(db);
  const toDevice = new ToDeviceService(db, notifier, accounts);
  const receipts = new ReceiptService(db, notifier);
  const typing = new TypingManager(notifier);
  const uia = new UserInteractiveAuth({
    checkPassword: (userId, password) => accounts.checkPassword(userId, password),
    resolveUser: (user) => accounts.resolveLoginUser(user),
    isValidRegistrationToken: (token) => config.registration.tokens.includes(token),
  });
  const joined = new Set<string>();
  const isJoined = async (userId: string, roomId: string) => joined.has(`${userId}\u0000${roomId}`);
  const profileChanges: Harness['profileChanges'] = [];
  const leftAllRooms: string[] = [];

  const app = createHttpServer({ logger: pino({ level: 'silent' }) });
  const auth = createAuthenticator(accounts);
  registerAccountApi(app, {
    config,
    auth,
    accounts,
    uia,
    accountData,
    filters,
    pushRules,
    typing,
    receipts,
    toDevice,
    isJoined,
    onProfileChange: async (userId, profile) => {
      profileChanges.push({ userId, profile });
    },
    leaveAllRooms: async (userId) => {
      leftAllRooms.push(userId);
      for (const pair of [...joined]) if (pair.startsWith(`${userId}\u0000`)) joined.delete(pair);
    },
  });
  await app.ready();

  const call: Harness['call'] = async (method, url, opts = {}) => {
    const res = await app.inject({
      method,
      url,
      headers: opts.token ? { authorization: `Bearer ${opts.token}` } : {},
      ...(opts.body !== undefined ? { payload: JSON.stringify(opts.body) } : {}),
    });
    return { status: res.statusCode, body: res.body === '' ? undefined : res.json() };
  };

  return {
    app,
    db,
    config,
    notifier,
    accounts,
    accountData,
    pushRules,
    filters,
    toDevice,
    receipts,
    typing,
    joined,
    profileChanges,
    leftAllRooms,
    deletedDevices,
    changedDevices,
    call,
    async user(localpart, password = 'correct horse') {
      await accounts.createUser(localpart, { password });
      const session = await accounts.loginWithPassword(localpart, password);
      return { userId: session.userId, token: session.accessToken, deviceId: session.deviceId };
    },
    async close() {
      typing.stop();
      await app.close();
      await db.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
