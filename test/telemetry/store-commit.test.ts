/**
 * The telemetry store's adaptive group commit (issue 14), counted rather than timed: the flush
 * interval is set to a minute, so a reading that is written at all was written by the adaptive path.
 */
import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Database } from '../../src/storage/db.js';
import { TelemetryStore, type TelemetryOptions } from '../../src/telemetry/store.js';

const DB_OPTS = { cacheSizeBytes: 1 << 20, writeBufferSizeBytes: 1 << 20 };
const MINUTE = 60_000;
const T0 = Date.UTC(2025, 0, 1, 12, 0, 0);

async function open(t: { teardown(fn: () => Promise<void>): void }, over: Partial<TelemetryOptions>) {
  const dir = mkdtempSync(join(tmpdir(), 'hearth-telemetry-commit-'));
  const db = await Database.open(dir, DB_OPTS);
  const opts: TelemetryOptions = { journalPath: join(dir, 'telemetry.journal'), rawRetentionDays: 7, rollupRetentionDays: 365, flushIntervalMs: MINUTE, ...over };
  const store = await TelemetryStore.open(db, opts);
  let current = { db, store };
  const reopen = async () => {
    await current.store.stop();
    await current.db.close();
    const nextDb = await Database.open(dir, DB_OPTS);
    current = { db: nextDb, store: await TelemetryStore.open(nextDb, opts) };
    return current.store;
  };
  t.teardown(async () => {
    await current.store.stop();
    await current.db.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { store, reopen };
}

/** Lets the event loop turn a few times (immediates and I/O callbacks run). */
async function turns(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((done) => setImmediate(done));
}

const reading = (device: number, i: number) => ({ stream: `dev${device}/temperature`, ts: T0 + i * 1000, value: 20 + i / 10 });

test('a lone reading is committed at once, not after the flush interval', async (t) => {
  const { store, reopen } = await open(t, { commit: { mode: 'adaptive', minIntervalMs: 50 } });
  await store.record(reading(0, 0));
  t.is(store.commits, 1, 'one journal entry, written without the 1 minute timer');
  // And it is durable: a reopened store replays it from the journal.
  const again = await reopen();
  t.deepEqual((await again.query('dev0/temperature', T0, T0, 'raw')).points, [{ ts: T0, value: 20 }]);
});

test('a lone device gets one commit per reading when its readings are further apart than the minimum interval', async (t) => {
  const { store } = await open(t, { commit: { mode: 'adaptive', minIntervalMs: 0 } });
  for (let i = 0; i < 5; i++) await store.record(reading(0, i));
  t.is(store.commits, 5);
});

test('200 readings arriving together share one commit', async (t) => {
  const { store } = await open(t, { commit: { mode: 'adaptive', minIntervalMs: 50 } });
  await Promise.all(Array.from({ length: 200 }, (_, d) => store.record(reading(d, 0))));
  t.is(store.commits, 1);
});

test('readings arriving within the minimum interval after a commit wait for the next one and share it', async (t) => {
  const { store } = await open(t, { commit: { mode: 'adaptive', minIntervalMs: MINUTE } });
  await store.record(reading(0, 0));
  t.is(store.commits, 1);
  // Readings in separate turns of the event loop, as from separate devices' messages.
  const later: Promise<void>[] = [];
  for (let d = 1; d <= 10; d++) {
    later.push(store.record(reading(d, 1)));
    await turns(2);
  }
  t.is(store.commits, 1, 'no commit before the minimum interval has passed');
  await store.flush();
  await Promise.all(later);
  t.is(store.commits, 2, 'the ten readings shared one commit');
});

test('a commit in flight is not joined: readings arriving meanwhile go in the next one', async (t) => {
  const { store } = await open(t, { commit: { mode: 'adaptive', minIntervalMs: 0 } });
  const first = store.record(reading(0, 0));
  await turns(1); // the first commit has started (its immediate ran)
  const second = store.record(reading(1, 0));
  await Promise.all([first, second]);
  t.is(store.commits, 2);
});

test('interval mode keeps waiting for the flush interval (or a full batch)', async (t) => {
  const { store } = await open(t, { commit: { mode: 'interval', minIntervalMs: 0 }, flushBatchReadings: 8 });
  const lone = store.record(reading(0, 0));
  await turns(10);
  t.is(store.commits, 0, 'a lone reading waits for the interval');
  await Promise.all([lone, ...Array.from({ length: 7 }, (_, d) => store.record(reading(d + 1, 0)))]);
  t.is(store.commits, 1, 'the 8th reading filled the batch');
});
