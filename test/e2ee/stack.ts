/**
 * An E2EE stack for tests: a real Database in a temp dir, the E2EE service and the /keys routes on a
 * fastify app, with a test authenticator (`Authorization: Bearer <user id>|<device id>`), in-memory
 * accounts (devices, passwords) and a fake room membership view the tests set up directly.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Database } from '../../src/storage/db.js';
import { StreamNotifier } from '../../src/stream/notifier.js';
import { createHttpServer } from '../../src/http/server.js';
import { ErrCode, MatrixError } from '../../src/core/errors.js';
import { E2eeService } from '../../src/e2ee/service.js';
import type { MembershipEntry, MembershipView } from '../../src/e2ee/device-lists.js';
import { registerKeysRoutes } from '../../src/api/client/keys.js';
import { generateSigningKey, signJson } from '../../src/core/signing.js';
import { encodeUnpaddedBase64 } from '../../src/core/base64.js';
import type { SigningKey } from '../../src/core/types.js';

export const SERVER = 'test.local';

/** Rooms for the fake membership view: room id -> user id -> membership. */
export class FakeRooms implements MembershipView {
  readonly rooms = new Map<string, Map<string, MembershipEntry>>();

  set(roomId: string, userId: string, membership: string, stream: number): void {
    let members = this.rooms.get(roomId);
    if (!members) this.rooms.set(roomId, (members = new Map()));
    members.set(userId, { membership, stream });
  }

  async roomsOf(userId: string) {
    const out: Array<MembershipEntry & { roomId: string }> = [];
    for (const [roomId, members] of this.rooms) {
      const entry = members.get(userId);
      if (entry) out.push({ roomId, ...entry });
    }
    return out;
  }

  async membersOf(roomId: string) {
    return [...(this.rooms.get(roomId) ?? [])].map(([userId, entry]) => ({ userId, ...entry }));
  }
}

export interface E2eeStack {
  app: FastifyInstance;
  e2ee: E2eeService;
  notifier: StreamNotifier;
  rooms: FakeRooms;
  /** user id -> device id -> display name. */
  devices: Map<string, Map<string, string | undefined>>;
  passwords: Map<string, string>;
  addDevice(userId: string, deviceId: string, displayName?: string): void;
  close(): Promise<void>;
}

export async function openE2eeStack(): Promise<E2eeStack> {
  const dir = mkdtempSync(join(tmpdir(), 'hearth-e2ee-'));
  const db = await Database.open(dir, { cacheSizeBytes: 1 << 20, writeBufferSizeBytes: 1 << 20 });
  const notifier = new StreamNotifier(0);
  const rooms = new FakeRooms();
  const devices = new Map<string, Map<string, string | undefined>>();
  const passwords = new Map<string, string>();
  const e2ee = new E2eeService({
    db,
    notifier,
    serverName: SERVER,
    memberships: rooms,
    userDevices: async (userId) =>
      [...(devices.get(userId) ?? [])].map(([deviceId, displayName]) => (displayName === undefined ? { deviceId } : { deviceId, displayName })),
  });
  const app = createHttpServer({ logger: pino({ level: 'silent' }) });
  const requireUser = async (req: FastifyRequest) => {
    const auth = req.headers.authorization;
    if (!auth) throw new MatrixError(401, ErrCode.MISSING_TOKEN, 'Missing access token');
    const [userId, deviceId] = auth.replace(/^Bearer /, '').split('|');
    return { userId: userId!, deviceId: deviceId ?? 'DEV' };
  };
  registerKeysRoutes(app, {
    serverName: SERVER,
    e2ee,
    requireUser,
    checkPassword: async (userId, password) => passwords.get(userId) === password,
  });
  await app.ready();
  return {
    app,
    e2ee,
    notifier,
    rooms,
    devices,
    passwords,
    addDevice(userId, deviceId, displayName) {
      let mine = devices.get(userId);
      if (!mine) devices.set(userId, (mine = new Map()));
      mine.set(deviceId, displayName);
    },
    async close() {
      await app.close();
      await db.close();
    },
  };
}

/** A client device: its ed25519 key (key id `ed25519:<device id>`) and its signed device keys. */
export interface TestDevice {
  userId: string;
  deviceId: string;
  key: SigningKey;
  publicKey: string;
  deviceKeys: Record<string, unknown>;
}

export function makeDevice(userId: string, deviceId: string): TestDevice {
  const key = { ...generateSigningKey(), keyId: `ed25519:${deviceId}` };
  const publicKey = encodeUnpaddedBase64(key.publicKey);
  const unsignedKeys = {
    user_id: userId,
    device_id: deviceId,
    algorithms: ['m.olm.v1.curve25519-aes-sha2', 'm.megolm.v1.aes-sha2'],
    keys: { [`curve25519:${deviceId}`]: encodeUnpaddedBase64(generateSigningKey().publicKey), [`ed25519:${deviceId}`]: publicKey },
  };
  return { userId, deviceId, key, publicKey, deviceKeys: signJson(unsignedKeys, userId, key) };
}

/** A signed one-time key object as Olm uploads it (`signed_curve25519`). */
export function signedKey(device: TestDevice, fallback = false): Record<string, unknown> {
  const body = { key: encodeUnpaddedBase64(generateSigningKey().publicKey), ...(fallback ? { fallback: true } : {}) };
  return signJson(body, device.userId, device.key);
}

/** A cross-signing key pair of one usage; `signer` (the master key) signs it when given. */
export function makeCrossSigningKey(userId: string, usage: string, signer?: CrossSigningKeyPair): CrossSigningKeyPair {
  const generated = generateSigningKey();
  const publicKey = encodeUnpaddedBase64(generated.publicKey);
  const key = { ...generated, keyId: `ed25519:${publicKey}` };
  const body = { user_id: userId, usage: [usage], keys: { [`ed25519:${publicKey}`]: publicKey } };
  return { key, publicKey, body: signer ? signJson(body, userId, signer.key) : body };
}

export interface CrossSigningKeyPair {
  key: SigningKey;
  publicKey: string;
  body: Record<string, unknown>;
}

export function authAs(userId: string, deviceId = 'DEV'): Record<string, string> {
  return { authorization: `Bearer ${userId}|${deviceId}` };
}

/** POST with JSON, returning status and parsed body. */
export async function post(app: FastifyInstance, url: string, headers: Record<string, string>, payload: unknown) {
  const res = await app.inject({ method: 'POST', url, headers, payload: payload as object });
  return { status: res.statusCode, body: res.json() as Record<string, any> };
}
