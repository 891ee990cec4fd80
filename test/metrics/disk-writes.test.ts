/**
 * The gateway's own write history (metrics/disk-writes.ts) and per-second rates
 * (metrics/counter-rate.ts), with the kernel counter and the clock injected: bytes land in the
 * clock hour they were sampled in, survive a restart through the file, and a rate counts sampled
 * time only (a stopped gateway's hours do not dilute it).
 */
import test from 'ava';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DISK_WRITES_FILE, DiskWriteHistory, parseHistory, processWriteBytes, writeRate } from '../../src/metrics/disk-writes.js';
import { CounterRate } from '../../src/metrics/counter-rate.js';

const HOUR = 3600_000;
const T0 = Date.UTC(2027, 0, 1, 10, 0, 0);

function dir(t: { teardown(fn: () => void): void }): string {
  const d = mkdtempSync(join(tmpdir(), 'hearth-writes-'));
  t.teardown(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

test('/proc/self/io: write_bytes less cancelled_write_bytes', (t) => {
  t.is(processWriteBytes('rchar: 5\nwrite_bytes: 10000\ncancelled_write_bytes: 4000\n'), 6000);
  t.is(processWriteBytes('rchar: 5\n'), undefined);
});

test('bytes go to the hour they were sampled in, persist at the hour change and stop, and load after a restart', async (t) => {
  const dataDir = dir(t);
  let bytes = 1_000_000; // the counter of a process that has run a while: only what follows counts
  let now = T0 + 10 * 60_000;
  const history = new DiskWriteHistory({ dataDir, read: () => bytes, now: () => now });
  await history.start(3600_000);
  bytes += 60_000;
  now += 50 * 60_000; // 11:00
  history.sample();
  bytes += 36_000;
  now += 10 * 60_000; // 11:10
  history.sample();
  // Each sample's bytes and seconds go to the hour it was taken in (11:00 here, twice).
  const hours = history.history();
  t.deepEqual(hours, [{ hourMs: T0 + HOUR, bytes: 96_000, seconds: 3600 }]);
  history.stop();
  const saved = parseHistory(readFileSync(join(dataDir, DISK_WRITES_FILE), 'utf8'));
  t.deepEqual(saved, hours);

  // A restart much later: the new process's counter starts again; the old hours are kept.
  bytes = 500;
  now = T0 + 30 * HOUR;
  const again = new DiskWriteHistory({ dataDir, read: () => bytes, now: () => now });
  await again.start(3600_000);
  bytes += 3600;
  now += 60_000;
  again.sample();
  const all = again.history();
  t.is(all.length, hours.length + 1);
  t.deepEqual(all[all.length - 1], { hourMs: T0 + 30 * HOUR, bytes: 3600, seconds: 60 });
  // The daily rate: bytes over sampled seconds only (the 19 stopped hours do not count).
  const rate = writeRate(all, now - 7 * 24 * HOUR)!;
  t.is(rate.seconds, 3600 + 60);
  t.is(Math.round(rate.bytesPerSecond * rate.seconds), 96_000 + 3600);
  // The hourly rate: the current and previous clock hour only.
  t.deepEqual(writeRate(all, now - HOUR), { bytesPerSecond: 60, seconds: 60 });
  again.stop();
});

test('a malformed history file is dropped, never trusted', (t) => {
  t.deepEqual(parseHistory('not json'), []);
  t.deepEqual(parseHistory(JSON.stringify({ hours: [{ hourMs: 1, bytes: -5, seconds: 1 }, { hourMs: 2, bytes: 7, seconds: 99999 }, { hourMs: 3, bytes: 7, seconds: 10 }] })), [
    { hourMs: 3, bytes: 7, seconds: 10 },
  ]);
  const dataDir = dir(t);
  writeFileSync(join(dataDir, DISK_WRITES_FILE), '{"hours": "x"}');
  t.deepEqual(parseHistory(readFileSync(join(dataDir, DISK_WRITES_FILE), 'utf8')), []);
});

test('a counter rate is per second over the last minute, from the oldest sample kept', (t) => {
  let value = 0;
  let now = 0;
  const rate = new CounterRate(() => value, 60_000, () => now);
  t.is(rate.perSecond(), 0, 'no time passed');
  for (let s = 1; s <= 12; s++) {
    now = s * 10_000;
    value += s <= 6 ? 100 : 10; // 10/s for the first minute, then 1/s
    rate.sample();
  }
  // At 120 s: the oldest sample kept is at 60 s (value 600); now 660.
  t.is(rate.perSecond(), 1);
});
