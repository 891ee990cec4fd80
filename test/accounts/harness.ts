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
import { SharedSecretRegistration } from '../../src/accounts/shared-secret.js';
import { ToDeviceService } from '../../src/accounts/to-device.js';
import { TypingManager } from '../../src/accounts/typing.js';
import { UserInteractiveAuth } from '../../src/accounts/uia.js';
import { registerAccountRoutes } from '../../src/api/client/account.js';
import { registerAccountDataRoutes } from '../../src/api/client/account-data.js';
import { registerCapabilitiesRoutes } from '../../src/api/client/capabilities.js';
import { registerDevicesRoutes } from '../../src/api/client/devices.js';
import { registerFilterRoutes } from '../../src/api/client/filters.js';
import { registerLoginRoutes } from '../../src/api/client/login.js';
import { registerLogoutRoutes } from '../../src/api/client/logout.js';
import { registerProfileRoutes } from '../../src/api/client/profile.js';
import { registerPushRulesRoutes } from '../../src/api/client/push-rules.js';
import { registerReadMarkerRoutes } from '../../src/api/client/read-markers.js';
import { registerReceiptRoutes } from '../../src/api/client/receipts.js';
import { registerRegisterRoutes } from '../../src/api/client/register.js';
import { registerSynapseAdminRoutes } from '../../src/api/client/synapse-admin.js';
import { registerToDeviceRoutes } from '../../src/api/client/to-device.js';
import { registerTypingRoutes } from '../../src/api/client/typing.js';
import { registerVersionsRoutes } from '../../src/api/client/versions.js';
import { registerWellKnownRoutes } from '../../src/api/client/well-known.js';
import { defaultConfig, type HearthConfig, type RegistrationMode } from '../../src/config/config.js';
import { createAuthenticator } from '../../src/http/auth.js';
import { createHttpServer } from '../../src/http/server.js';
import { StreamNotifier } from '../../src/rooms/notifier.js';
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
  /** `user device` of every device the accounts service reported deleted. */
  deletedDevices: string[];
  call(method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, opts?: { body?: unknown; token?: string }): Promise<{ status: number; body: any }>;
  /** Creates an account and logs it in. */
  user(localpart: string, password?: string): Promise<{ userId: string; token: string; deviceId: string }>;
  close(): Promise<void>;
}

export async function startHarness(mode: RegistrationMode = 'open', tokens: string[] = []): Promise<Harness> {
  const dir = await mkdtemp(join(tmpdir(), 'hearth-accounts-'));
  const db = await Database.open(join(dir, 'db'), { cacheSizeBytes: 1 << 20, writeBufferSizeBytes: 1 << 20 });
  const base = defaultConfig(dir);
  const config: HearthConfig = {
    ...base,
    serverName: SERVER_NAME,
    client: { ...base.client, publicBaseUrl: 'https://hearth.test/' },
    registration: { mode, tokens, sharedSecret: SHARED_SECRET },
  };
  const notifier = new StreamNotifier(0);
  const deletedDevices: string[] = [];
  const accounts = new AccountService(db, config, notifier, {
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

  const app = createHttpServer({ logger: pino({ level: 'silent' }) });
  const auth = createAuthenticator(accounts);
  registerVersionsRoutes(app);
  registerWellKnownRoutes(app, { publicBaseUrl: config.client.publicBaseUrl });
  registerCapabilitiesRoutes(app, { auth });
  registerLoginRoutes(app, { accounts, publicBaseUrl: config.client.publicBaseUrl });
  registerLogoutRoutes(app, { auth, accounts });
  registerRegisterRoutes(app, { accounts, uia, registration: config.registration });
  registerAccountRoutes(app, { auth, accounts, uia });
  registerDevicesRoutes(app, { auth, accounts, uia });
  registerProfileRoutes(app, {
    auth,
    accounts,
    onProfileChange: async (userId, profile) => {
      profileChanges.push({ userId, profile });
    },
  });
  registerAccountDataRoutes(app, { auth, accountData });
  registerFilterRoutes(app, { auth, filters });
  registerPushRulesRoutes(app, { auth, pushRules });
  registerTypingRoutes(app, { auth, typing, isJoined });
  registerReceiptRoutes(app, { auth, accountData, receipts, isJoined });
  registerReadMarkerRoutes(app, { auth, accountData, receipts, isJoined });
  registerToDeviceRoutes(app, { auth, toDevice });
  registerSynapseAdminRoutes(app, { accounts, sharedSecret: new SharedSecretRegistration(config.registration.sharedSecret) });
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
    deletedDevices,
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
