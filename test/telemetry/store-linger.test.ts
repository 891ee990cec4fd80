import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Database } from '../../src/storage/db.js';
import { TelemetryStore, type TelemetryOptions } from '../../src/telemetry/store.js';

const DB_OPTS = { cacheSizeBytes: 1 << 20, writeBufferSizeBytes: 1 << 20 };

async function open(t: { teardown(fn: () => Promise<void>): void }, over: Partial<TelemetryOptions>) {
  const dir = mkdtempSync(join(tmpdir(), 'hearth-telemetry-linger-'));
  const db = await Database.open(dir, DB_OPTS);
  // The interval policy: these tests are about how long a reading lingers when commits wait for it.
  const store = await TelemetryStore.open(db, { journalPath: join(dir, 'telemetry.journal'), rawRetentionDays: 7, rollupRetentionDays: 365, flushIntervalMs: 1000, commit: { mode: 'interval', minIntervalMs: 0 }, ...over });
  t.teardown(async () => {
    await store.stop();
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return store;
}

/** Resolves to whether `p` settled within `ms`. */
async function settlesWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  const result = await Promise.race([p.then(() => true), timeout]);
  clearTimeout(timer);
  return result;
}

const reading = (i: number) => ({ stream: 'dev/temperature', ts: 1_700_000_000_000 + i, value: 20 + i / 10 });

test('without a burst, a reading waits for the flush interval', async (t) => {
  const store = await open(t, { flushIntervalMs: 400, flushBatchReadings: 8 });
  const written = store.record(reading(0));
  t.false(await settlesWithin(written, 150));
  t.true(await settlesWithin(written, 1000));
});

test('right after a batch filled, the readings left are written without waiting for the interval', async (t) => {
  const store = await open(t, { flushIntervalMs: 10_000, flushBatchReadings: 8 });
  const burst = Array.from({ length: 8 }, (_, i) => store.record(reading(i)));
  t.true(await settlesWithin(Promise.all(burst), 2000), 'a full batch is written at once');
  // Fewer than a batch: the publishers would now be waiting on these acknowledgements.
  const rest = Array.from({ length: 3 }, (_, i) => store.record(reading(8 + i)));
  t.true(await settlesWithin(Promise.all(rest), 2000), 'the remainder does not wait the 10 s interval');
});
