/**
 * A room stack for tests: a real Database in a temp dir, the room engine, and the room routes on a
 * fastify app, with a test authenticator (`Authorization: Bearer <user id>|<device id>`). The
 * account side is tested with the real authenticator elsewhere; here it would only add noise.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Database } from '../../src/storage/db.js';
import { generateSigningKey } from '../../src/core/signing.js';
import type { SigningKey } from '../../src/core/types.js';
import { StreamNotifier } from '../../src/stream/notifier.js';
import { RoomEngine } from '../../src/rooms/engine.js';
import { lastStreamPosition } from '../../src/stream/stream-position.js';
import { createHttpServer } from '../../src/http/server.js';
import { buildRoomApi } from '../../src/app/room-api.js';
import { RoomDirectory } from '../../src/rooms/room-directory.js';
import type { SyncService, SyncSources } from '../../src/rooms/sync.js';
import { ErrCode, MatrixError } from '../../src/core/errors.js';
import type { IgnoredUsersLookup } from '../../src/rooms/visibility.js';

export interface RoomStack {
  dir: string;
  db: Database;
  engine: RoomEngine;
  app: FastifyInstance;
  key: SigningKey;
  sync: SyncService;
  close(): Promise<void>;
}

/**
 * Services a test adds to the stack: more routes on `app`, real sync sources in place of the fakes,
 * and who ignores whom (`ignoredUsersOf`, nobody when absent).
 */
export interface RoomStackExtension {
  (parts: { db: Database; engine: RoomEngine; notifier: StreamNotifier; app: FastifyInstance; requireUser(req: FastifyRequest): Promise<{ userId: string; deviceId: string }> }): Partial<SyncSources> & {
    ignoredUsersOf?: IgnoredUsersLookup;
  };
}

export const SERVER = 'test.local';

export async function openRoomStack(
  dir = mkdtempSync(join(tmpdir(), 'hearth-rooms-')),
  key = generateSigningKey(),
  extend?: RoomStackExtension,
): Promise<RoomStack> {
  const db = await Database.open(dir, { cacheSizeBytes: 1 << 20, writeBufferSizeBytes: 1 << 20 });
  const log = pino({ level: 'silent' });
  // The notifier starts from the persisted position, as the gateway does.
  const notifier = new StreamNotifier(await lastStreamPosition(db));
  const engine = new RoomEngine({ db, notifier, serverName: SERVER, signingKey: key, log });
  await engine.open();
  const app = createHttpServer({ logger: log });
  const requireUser = async (req: FastifyRequest) => {
    const auth = req.headers.authorization;
    if (!auth) throw new MatrixError(401, ErrCode.MISSING_TOKEN, 'Missing access token');
    const [userId, deviceId] = auth.replace(/^Bearer /, '').split('|');
    return { userId: userId!, deviceId: deviceId ?? 'DEV' };
  };
  const { ignoredUsersOf, ...extra } = extend?.({ db, engine, notifier, app, requireUser }) ?? {};
  const roomApi = buildRoomApi(app, {
    engine,
    directory: new RoomDirectory(db),
    serverName: SERVER,
    requireUser,
    profileOf: async () => ({}),
    getFilter: async () => undefined,
    ...(ignoredUsersOf ? { ignoredUsersOf } : {}),
    sources: {
      accountDataSince: async () => ({ global: [], rooms: new Map() }),
      toDeviceSince: async () => [],
      acknowledgeToDevice: async () => undefined,
      receiptsSince: async () => new Map(),
      typingFor: () => [],
      typingChangedSince: () => false,
      deviceListsSince: async () => ({ changed: [], left: [] }),
      oneTimeKeyCounts: async () => ({}),
      unusedFallbackKeyTypes: async () => [],
      unreadCounts: async () => ({ notification_count: 0, highlight_count: 0 }),
      userSyncing: () => () => undefined,
      presenceSince: async () => [],
      ...extra,
    },
  });
  await app.ready();
  return {
    dir,
    db,
    engine,
    app,
    key,
    sync: roomApi.sync,
    async close() {
      await app.close();
      await db.close();
    },
  };
}

/**
 * A request to the stack's app as `user` (the test authenticator's `<user id>|DEV1` token; none
 * when undefined). A string body is sent as is (malformed JSON tests), anything else as JSON.
 */
export async function call(stack: RoomStack, method: string, url: string, user: string | undefined, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await stack.app.inject({
    method: method as 'GET',
    url,
    headers: user ? { authorization: `Bearer ${user}|DEV1` } : {},
    ...(body === undefined ? {} : { payload: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  return { status: res.statusCode, body: res.body ? JSON.parse(res.body) : undefined };
}
