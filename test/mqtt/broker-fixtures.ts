/**
 * Shared setup for the broker tests: a Database in a temp dir, a device registry with a test double
 * for Matrix accounts, and an embedded broker on a free loopback port.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { defaultConfig, type HearthConfig } from '../../src/config/config.js';
import { Database } from '../../src/storage/db.js';
import { DeviceRegistry } from '../../src/mqtt/identity/registry.js';
import { createAuthenticator } from '../../src/mqtt/identity/authenticate.js';
import { createDefaultAclPolicy } from '../../src/mqtt/identity/acl.js';
import { EmbeddedBroker } from '../../src/mqtt/broker/embedded.js';
import type { InboundMessage } from '../../src/mqtt/transport.js';

export const SERVER_NAME = 'hearth.test';
/** The one access token the fake accounts module knows. */
export const ALICE_TOKEN = 'syt_alice_token';
export const ALICE = `@alice:${SERVER_NAME}`;

export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'hearth-mqtt-'));
}

export function openDb(dir: string): Promise<Database> {
  return Database.open(dir, { cacheSizeBytes: 1 << 20, writeBufferSizeBytes: 1 << 20 });
}

export function openRegistry(db: Database): Promise<DeviceRegistry> {
  return DeviceRegistry.open({ db, ensureMatrixUser: async (localpart) => `@${localpart}:${SERVER_NAME}` });
}

export interface Harness {
  db: Database;
  registry: DeviceRegistry;
  broker: EmbeddedBroker;
  received: InboundMessage[];
  url: string;
  stop(): Promise<void>;
}

export interface HarnessOptions {
  dir?: string;
  mqtt?: Partial<HearthConfig['mqtt']>;
  /** Runs before a message is recorded as received; may delay or throw. */
  handler?: (msg: InboundMessage) => Promise<void>;
  /** The bridge's answer to a Matrix user's command publish (EmbeddedBrokerDeps.authorizeUserCommand). */
  authorizeUserCommand?: (userId: string, topic: string) => Promise<boolean>;
}

/** A started broker on 127.0.0.1 with a fresh (or the given) data directory. */
export async function startHarness(opts: HarnessOptions = {}): Promise<Harness> {
  const dir = opts.dir ?? tempDir();
  const db = await openDb(dir);
  const registry = await openRegistry(db);
  const config: HearthConfig['mqtt'] = { ...defaultConfig(dir).mqtt, port: 0, bindAddress: '127.0.0.1', ...opts.mqtt };
  const broker = new EmbeddedBroker({
    mqtt: config,
    db,
    authenticate: createAuthenticator({
      verifyDevice: (u, p) => registry.verify(u, p),
      authenticateAccessToken: async (token) => (token === ALICE_TOKEN ? { userId: ALICE } : undefined),
      allowAnonymous: config.allowAnonymous,
    }),
    acl: createDefaultAclPolicy(),
    ...(opts.authorizeUserCommand ? { authorizeUserCommand: opts.authorizeUserCommand } : {}),
    logger: { warn: () => undefined },
    persistFlushMs: 50,
  });
  const received: InboundMessage[] = [];
  broker.setInboundHandler(async (msg) => {
    if (opts.handler) await opts.handler(msg);
    received.push(msg);
  });
  await broker.start();
  return {
    db,
    registry,
    broker,
    received,
    url: `mqtt://127.0.0.1:${broker.port}`,
    async stop() {
      await broker.stop();
      await db.close();
    },
  };
}

/** Connects with mqtt.js, resolving on CONNACK 0 and rejecting with the refusal otherwise. */
export function connect(url: string, opts: IClientOptions = {}): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const client = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 5000, ...opts });
    client.once('connect', () => resolve(client));
    client.once('error', (err) => {
      client.end(true);
      reject(err);
    });
  });
}

/** Waits until `condition` holds, polling every 20 ms. */
export async function until(condition: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
