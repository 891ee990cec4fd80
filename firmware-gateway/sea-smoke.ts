/**
 * A small entry for checking the single-executable mechanics on their own (check.sh): loads the
 * dependencies the gateway bundles, opens a LevelDB through the classic-level addon (the SEA asset),
 * writes and reads back, and prints what it saw as JSON.
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

// No top-level await: the bundle is CommonJS (Node SEA runs CommonJS only).
async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'hearth-sea-smoke-'));
  const db = new Level<string, string>(join(dir, 'db'));
  await db.put('k', 'v');
  const readBack = await db.get('k');
  await db.close();
  rmSync(dir, { recursive: true, force: true });

  const cbor = new Encoder({ useRecords: false, variableMapSize: true, tagUint8Array: false });
  const broker = await Aedes.createBroker();
  broker.close();
  const { publicKey } = ed25519.keygen();
  console.log(
    JSON.stringify({
      sea: isSea(),
      leveldb: readBack,
      cbor: cbor.encode({ a: 1 }).toString('hex'),
      mqtt: typeof mqtt.connect,
      ed25519: publicKey.length,
      version: process.env.HEARTH_VERSION,
    }),
  );
}

void main();
