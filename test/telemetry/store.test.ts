import test from 'ava';
import { Encoder } from 'cbor-x';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Database } from '../../src/storage/db.js';
import { TelemetryStore, autoResolution, type TelemetryOptions } from '../../src/telemetry/store.js';
import { decodeChunk, encodeChunk, decodeJournal, encodeJournal } from '../../src/telemetry/chunk-codec.js';
import { rawKey } from '../../src/telemetry/keys.js';
import { frame, readRecords } from '../../src/telemetry/journal-file.js';

const T0 = Date.UTC(2025, 0, 1, 12, 0, 0);
const DB_OPTS = { cacheSizeBytes: 1 << 20, writeBufferSizeBytes: 1 << 20 };

async function setup(t: { teardown(fn: () => void): void }, over: Partial<TelemetryOptions> = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'hearth-telemetry-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const clock = { now: T0 };
  const journalPath = join(dir, 'telemetry.journal');
  const opts: TelemetryOptions = { journalPath, flushIntervalMs: 5, rawRetentionDays: 7, rollupRetentionDays: 365, now: () => clock.now, ...over };
  const db = await Database.open(dir, DB_OPTS);
  const store = await TelemetryStore.open(db, opts);
  // Stores a test "crashes" (reopens without stop()) still hold their journal file open.
  const stores = [store];
  let current = db;
  const reopen = async () => {
    await current.close();
    current = await Database.open(dir, DB_OPTS);
    const next = await TelemetryStore.open(current, opts);
    stores.push(next);
    return { db: current, store: next };
  };
  t.teardown(async () => {
    for (const s of stores) await s.stop().catch(() => undefined);
    await current.close().catch(() => undefined);
  });
  return { db, store, clock, reopen, journalPath };
}

test('chunk codec: delta-of-delta times and scaled integer deltas round-trip compactly', (t) => {
  const ts = Array.from({ length: 300 }, (_, i) => T0 + i * 1000 + (i % 3));
  const values = ts.map((_, i) => Math.round((21 + Math.sin(i / 20)) * 10) / 10);
  const buf = encodeChunk(T0, { ts, values });
  t.deepEqual(decodeChunk(T0, buf), { ts, values });
  t.true(buf.length / ts.length < 4, `chunk costs ${(buf.length / ts.length).toFixed(2)} B/reading`);
  const mixed = { ts: [T0, T0 + 5], values: ['ON', 1.5] };
  t.deepEqual(decodeChunk(T0, encodeChunk(T0, mixed)), mixed);
  const irrational = { ts: [T0], values: [Math.PI] };
  t.deepEqual(decodeChunk(T0, encodeChunk(T0, irrational)), irrational);
});

test('journal codec: streams, offsets and decimal values round-trip', (t) => {
  const buf = encodeJournal(T0, [1, 2, 3], [T0 - 3, T0, T0 + 1], [21.3, true, 'idle']);
  t.deepEqual(decodeJournal(T0, buf), { streams: [1, 2, 3], ts: [T0 - 3, T0, T0 + 1], values: [21.3, true, 'idle'] });
});

test('journal codec: entries come back sorted by stream, each stream in its own order', (t) => {
  const buf = encodeJournal(T0, [300, 12, 300, 301, 12], [T0 + 5, T0 + 9, T0 + 700, T0 + 5, T0 + 2], [21.3, 'ON', 21.4, 45.25, 'OFF']);
  t.deepEqual(decodeJournal(T0, buf), {
    streams: [12, 12, 300, 300, 301],
    ts: [T0 + 9, T0 + 2, T0 + 5, T0 + 700, T0 + 5],
    values: ['ON', 'OFF', 21.3, 21.4, 45.25],
  });
  // No exact decimal form: numbers fall back to chunk encoding, still exact.
  const irrational = encodeJournal(T0, [2, 1], [T0, T0], [Math.PI, 0.1]);
  t.deepEqual(decodeJournal(T0, irrational), { streams: [1, 2], ts: [T0, T0], values: [0.1, Math.PI] });
});

test('journal codec: 200 climate sensors cost ~6 bytes a reading; format 1 entries still read', (t) => {
  const streams: number[] = [];
  const ts: number[] = [];
  const values: number[] = [];
  for (let d = 0; d < 200; d++) {
    // Arrival order is by device, not by stream: two sensors per message.
    streams.push(1000 + ((d * 37) % 200) * 2, 1001 + ((d * 37) % 200) * 2);
    ts.push(T0 + d * 5, T0 + d * 5);
    values.push(18 + (d % 60) / 10, 40 + (d % 200) / 10);
  }
  const buf = encodeJournal(T0, streams, ts, values);
  t.true(buf.length / values.length < 7, `${buf.length / values.length} bytes per reading`);
  const back = decodeJournal(T0, buf);
  const byStream = (s: number[], v: unknown[]) => s.map((x, i) => [x, v[i]] as const).sort((a, b) => a[0] - b[0]);
  t.deepEqual(byStream(back.streams, back.values), byStream(streams, values));
  t.deepEqual(byStream(back.streams, back.ts), byStream(streams, ts));

  const format1 = new Encoder({ useRecords: false, variableMapSize: true }).encode([[5, 6], [-3, 0], [21, 'idle']]);
  t.deepEqual(decodeJournal(T0, format1), { streams: [5, 6], ts: [T0 - 3, T0], values: [21, 'idle'] });
});

test('record resolves after the group commit; raw query sees the readings', async (t) => {
  const { store } = await setup(t);
  await Promise.all([10, 11, 12].map((v, i) => store.record({ stream: 'z2m.plug/power', ts: T0 + i * 1000, value: v })));
  const r = await store.query('z2m.plug/power', T0, T0 + 1500, 'raw');
  t.deepEqual(r, { resolution: 'raw', points: [{ ts: T0, value: 10 }, { ts: T0 + 1000, value: 11 }] });
  t.deepEqual(await store.query('nobody/none', T0, T0 + 1000, 'raw'), { resolution: 'raw', points: [] });
});

test('checkpoints write per-stream chunks; queries span chunks and memory', async (t) => {
  const { store, clock } = await setup(t, { checkpointIntervalMs: 60_000 });
  for (let i = 0; i < 180; i++) {
    clock.now = T0 + i * 1000;
    await store.record({ stream: 'a/t', ts: clock.now, value: 20 + i / 10 });
  }
  const r = await store.query('a/t', T0 + 50_000, T0 + 130_000, 'raw');
  t.is(r.points.length, 81);
  t.deepEqual(r.points[0], { ts: T0 + 50_000, value: 25 });
  t.deepEqual(r.points.at(-1), { ts: T0 + 130_000, value: 33 });
});

test('rollups: 5-minute and hourly min/mean/max/count, booleans as 0/1', async (t) => {
  const { store, clock } = await setup(t, { checkpointIntervalMs: 120_000 });
  // Every 30 s for 20 minutes: 40 readings, value = minute.
  for (let i = 0; i < 40; i++) {
    clock.now = T0 + i * 30_000;
    await store.record({ stream: 'a/t', ts: clock.now, value: Math.floor(i / 2) });
    await store.record({ stream: 'a/relay', ts: clock.now, value: i % 4 === 0 });
  }
  const fiveMin = await store.query('a/t', T0, T0 + 20 * 60_000, '5m');
  t.is(fiveMin.resolution, '5m');
  t.deepEqual(fiveMin.points[0], { ts: T0, min: 0, mean: 2, max: 4, count: 10 });
  t.deepEqual(fiveMin.points.map((p) => (p as { count: number }).count), [10, 10, 10, 10]);
  const hourly = await store.query('a/t', T0, T0 + 3_600_000, '1h');
  t.deepEqual(hourly.points, [{ ts: T0, min: 0, mean: 9.5, max: 19, count: 40 }]);
  const duty = await store.query('a/relay', T0, T0 + 3_600_000, '1h');
  t.deepEqual(duty.points, [{ ts: T0, min: 0, mean: 0.25, max: 1, count: 40 }]);
});

test('restart: the journal is replayed, checkpointed data and rollups are not counted twice', async (t) => {
  const { store, clock, reopen } = await setup(t, { checkpointIntervalMs: 60_000 });
  for (let i = 0; i < 100; i++) {
    clock.now = T0 + i * 1000;
    await store.record({ stream: 'a/t', ts: clock.now, value: i });
  }
  // No stop(): like a crash after the last acknowledged batch.
  const { store: again } = await reopen();
  const raw = await again.query('a/t', T0, T0 + 200_000, 'raw');
  t.deepEqual(raw.points.map((p) => (p as { value: unknown }).value), Array.from({ length: 100 }, (_, i) => i));
  const hourly = await again.query('a/t', T0, T0 + 3_600_000, '1h');
  t.deepEqual(hourly.points, [{ ts: T0, min: 0, mean: 49.5, max: 99, count: 100 }]);
  clock.now = T0 + 100_000;
  await again.record({ stream: 'a/t', ts: clock.now, value: 100 });
  await again.stop();
  const { store: third } = await reopen();
  t.is((await third.query('a/t', T0, T0 + 200_000, 'raw')).points.length, 101);
  t.deepEqual((await third.query('a/t', T0, T0 + 3_600_000, '1h')).points, [{ ts: T0, min: 0, mean: 50, max: 100, count: 101 }]);
});

test('journal file: entries a checkpoint covers are not replayed again, even if the file was not emptied', async (t) => {
  const { store, clock, reopen, journalPath } = await setup(t, { checkpointIntervalMs: 3_600_000 });
  for (let i = 0; i < 10; i++) {
    clock.now = T0 + i * 1000;
    await store.record({ stream: 'a/t', ts: clock.now, value: i });
  }
  const beforeCheckpoint = readFileSync(journalPath);
  t.true(readRecords(beforeCheckpoint).records.length >= 1, 'readings were journaled in the file');
  await store.checkpoint();
  t.is(statSync(journalPath).size, 0, 'the checkpoint empties the journal');
  // A crash between the checkpoint's batch and emptying the file: the covered entries are back.
  appendFileSync(journalPath, beforeCheckpoint);
  clock.now = T0 + 20_000;
  await store.record({ stream: 'a/t', ts: clock.now, value: 10 });
  const { store: again } = await reopen();
  const raw = await again.query('a/t', T0, T0 + 60_000, 'raw');
  t.deepEqual(raw.points.map((p) => (p as { value: unknown }).value), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  t.deepEqual((await again.query('a/t', T0, T0 + 3_600_000, '1h')).points, [{ ts: T0, min: 0, mean: 5, max: 10, count: 11 }]);
});

test('journal file: a torn last record is dropped, earlier ones replayed, later appends kept', async (t) => {
  const { store, clock, reopen, journalPath } = await setup(t, { checkpointIntervalMs: 3_600_000 });
  await store.record({ stream: 'a/t', ts: clock.now, value: 1 });
  // Half a record, as a power cut in the middle of an append leaves it.
  appendFileSync(journalPath, frame(T0 + 5, Buffer.from('not a whole entry')).subarray(0, 20));
  const { store: again } = await reopen();
  t.deepEqual((await again.query('a/t', T0 - 1, T0 + 60_000, 'raw')).points.map((p) => (p as { value: unknown }).value), [1]);
  clock.now = T0 + 1000;
  await again.record({ stream: 'a/t', ts: clock.now, value: 2 });
  const { store: third } = await reopen();
  t.deepEqual((await third.query('a/t', T0 - 1, T0 + 60_000, 'raw')).points.map((p) => (p as { value: unknown }).value), [1, 2]);
});

test('journal entries of older versions in LevelDB are replayed, then deleted by the next checkpoint', async (t) => {
  const { store, clock, reopen } = await setup(t, { checkpointIntervalMs: 3_600_000 });
  await store.record({ stream: 'a/t', ts: clock.now, value: 1 });
  await store.stop();
  const { db, store: reopened } = await reopen();
  await reopened.stop();
  const legacyKey = rawKey(0, T0 + 10);
  await db.write([db.put('telemetryRaw', legacyKey, new Encoder({ useRecords: false, variableMapSize: true }).encode([[1], [0], [7]]))]);
  const { db: db2, store: again } = await reopen();
  t.deepEqual((await again.query('a/t', T0 - 1, T0 + 60_000, 'raw')).points.map((p) => (p as { value: unknown }).value), [1, 7]);
  await again.checkpoint();
  t.is(await db2.space('telemetryRaw').get(legacyKey), undefined);
  t.deepEqual((await again.query('a/t', T0 - 1, T0 + 60_000, 'raw')).points.map((p) => (p as { value: unknown }).value), [1, 7]);
});

test('retention: raw chunks and rollups expire separately, per-stream overrides win', async (t) => {
  const { store, clock, db } = await setup(t, { rawRetentionDays: 1, rollupRetentionDays: 30 });
  await store.configureStream('b/kept', { rawRetentionDays: 10 });
  for (const stream of ['a/short', 'b/kept']) {
    await store.record({ stream, ts: T0, value: 1 });
  }
  await store.checkpoint();
  clock.now = T0 + 2 * 86_400_000;
  t.true((await store.prune()) >= 1);
  t.deepEqual((await store.query('a/short', T0 - 1, T0 + 1, 'raw')).points, []);
  t.is((await store.query('b/kept', T0 - 1, T0 + 1, 'raw')).points.length, 1);
  t.is((await store.query('a/short', T0, T0 + 1, '1h')).points.length, 1, 'rollups outlive raw readings');
  clock.now = T0 + 31 * 86_400_000;
  await store.prune();
  t.deepEqual((await store.query('a/short', T0, T0 + 1, '1h')).points, []);
  t.is(await db.space('telemetryRaw').get(rawKey(0, T0)), undefined);
});

test('auto resolution by span', (t) => {
  t.is(autoResolution(3_600_000), 'raw');
  t.is(autoResolution(2 * 86_400_000), '5m');
  t.is(autoResolution(30 * 86_400_000), '1h');
});
