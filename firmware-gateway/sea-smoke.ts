/**
 * A small entry for checking the single-executable mechanics on their own (check.sh): loads the
 * dependencies the gateway bundles, opens a LevelDB through the classic-level addon (the SEA asset),
 * writes and reads back, starts aedes over the gateway's own persistence (its base class once came
 * from node_modules at run time, which only worked inside the repository), and prints what it saw
 * as JSON.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isSea } from 'node:sea';
import { Level } from 'level';
import { Encoder } from 'cbor-x';
import { Aedes } from 'aedes';
import mqtt from 'mqtt';
import { ed25519 } from '@noble/curves/ed25519.js';
import { defaultConfig } from '../src/config/config.js';
import { Database } from '../src/storage/db.js';
import { LevelMirroredPersistence } from '../src/mqtt/broker/persistence.js';

// No top-level await: the bundle is CommonJS (Node SEA runs CommonJS only).
async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'hearth-sea-smoke-'));
  const db = new Level<string, string>(join(dir, 'db'));
  await db.put('k', 'v');
  const readBack = await db.get('k');
  await db.close();

  const defaults = defaultConfig(dir);
  const gatewayDb = await Database.open(join(dir, 'gateway-db'), defaults.storage);
  const persistence = new LevelMirroredPersistence({
    db: gatewayDb,
    offlineQueueLimit: defaults.mqtt.offlineQueueLimit,
    offlineQueueBytes: defaults.mqtt.offlineQueueBytes,
    offlineQueueTotalBytes: defaults.mqtt.offlineQueueTotalBytes,
    retained: defaults.mqtt.retained,
    flushIntervalMs: 10,
    onOfflineDrop: () => {},
    onError: (err) => console.error(err),
  });
  const broker = await Aedes.createBroker({ persistence });
  await new Promise<void>((done) => broker.close(() => done()));
  await persistence.flush();
  await gatewayDb.close();
  rmSync(dir, { recursive: true, force: true });

  const cbor = new Encoder({ useRecords: false, variableMapSize: true, tagUint8Array: false });
  const { publicKey } = ed25519.keygen();
  console.log(
    JSON.stringify({
      sea: isSea(),
      leveldb: readBack,
      cbor: cbor.encode({ a: 1 }).toString('hex'),
      mqtt: typeof mqtt.connect,
      broker: persistence instanceof LevelMirroredPersistence,
      ed25519: publicKey.length,
      version: process.env.HEARTH_VERSION,
    }),
  );
}

void main();
