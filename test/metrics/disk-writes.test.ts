/**
 * The gateway's own write history (metrics/disk-writes.ts), with the kernel counter and the clocks
 * given: what was written between two samples is spread over the clock hours between them, the
 * history survives a restart through the file, and a rate counts sampled time only (a stopped
 * gateway's hours do not dilute it). Samples are taken on demand, so gaps of hours are the rule.
 */
import test from 'ava';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../helpers/temp-dir.js';
import { DISK_WRITES_FILE, DiskWriteHistory, KEPT_HOURS, parseHistory, processWriteBytes, writeRate } from '../../src/metrics/disk-writes.js';

const HOUR = 3600_000;
const T0 = Date.UTC(2027, 0, 1, 10, 0, 0);

test('/proc/self/io: write_bytes less cancelled_write_bytes', (t) => {
  t.is(processWriteBytes('rchar: 5\nwrite_bytes: 10000\ncancelled_write_bytes: 4000\n'), 6000);
  t.is(processWriteBytes('rchar: 5\n'), undefined);
});

test('bytes are spread over the hours between samples, persist when a sample lands in a new hour and at stop, and load after a restart', async (t) => {
  const dataDir = tempDir(t, 'hearth-writes-');
  const file = join(dataDir, DISK_WRITES_FILE);
  let now = T0 + 10 * 60_000; // 10:10 by the wall clock
  const history = new DiskWriteHistory({ dataDir, now: () => now });
  await history.load();
  t.deepEqual(history.history(), []);
  // The counter of a process that has run a while: only what follows counts. Monotonic ms from 0.
  history.record(1_000_000, 0);
  now = T0 + HOUR; // 11:00
  history.record(1_060_000, 50 * 60_000);
  t.deepEqual(history.history(), [{ hourMs: T0, bytes: 60_000, seconds: 3000 }]);
  t.false(existsSync(file), 'not written within the first hour');
  now += 10 * 60_000; // 11:10
  history.record(1_096_000, 60 * 60_000);
  t.deepEqual(parseHistory(readFileSync(file, 'utf8')), [
    { hourMs: T0, bytes: 60_000, seconds: 3000 },
    { hourMs: T0 + HOUR, bytes: 36_000, seconds: 600 },
  ], 'written when a sample landed in a new hour');
  // Nobody asks for two and a half hours (1000 bytes a minute): the bytes go to the hours by time.
  now += 150 * 60_000; // 13:40
  history.record(1_246_000, 210 * 60_000);
  const hours = history.history();
  t.deepEqual(hours, [
    { hourMs: T0, bytes: 60_000, seconds: 3000 },
    { hourMs: T0 + HOUR, bytes: 86_000, seconds: 3600 },
    { hourMs: T0 + 2 * HOUR, bytes: 60_000, seconds: 3600 },
    { hourMs: T0 + 3 * HOUR, bytes: 40_000, seconds: 2400 },
  ]);
  history.stop();
  t.deepEqual(parseHistory(readFileSync(file, 'utf8')), hours);

  // A restart much later: the new process's counter starts again; the old hours are kept.
  now = T0 + 30 * HOUR;
  const again = new DiskWriteHistory({ dataDir, now: () => now });
  await again.load();
  again.record(500, 0);
  now += 60_000;
  again.record(500 + 3600, 60_000);
  const all = again.history();
  t.is(all.length, hours.length + 1);
  t.deepEqual(all[all.length - 1], { hourMs: T0 + 30 * HOUR, bytes: 3600, seconds: 60 });
  // The daily rate: bytes over sampled seconds only (the stopped hours do not count).
  const rate = writeRate(all, now - 7 * 24 * HOUR)!;
  t.is(rate.seconds, 3000 + 3600 + 3600 + 2400 + 60);
  t.is(Math.round(rate.bytesPerSecond * rate.seconds), 246_000 + 3600);
  // The current and previous clock hour only.
  t.deepEqual(writeRate(all, now - HOUR), { bytesPerSecond: 60, seconds: 60 });
});

test('a gap longer than the kept week keeps its last week; a wall clock set forward or back makes no phantom hours', async (t) => {
  const dataDir = tempDir(t, 'hearth-writes-');
  let now = T0;
  const history = new DiskWriteHistory({ dataDir, now: () => now });
  history.record(0, 0);
  // Ten days unwatched, 1 byte a second.
  const tenDays = 10 * 24 * HOUR;
  now += tenDays;
  history.record(tenDays / 1000, tenDays);
  const hours = history.history();
  t.is(hours.length, KEPT_HOURS);
  t.true(hours.every((h) => h.bytes === 3600 && h.seconds === 3600));
  t.is(hours[hours.length - 1]!.hourMs, now - HOUR);

  // A Pi without a clock: the wall clock jumps years ahead while a minute passes.
  const later = new DiskWriteHistory({ dataDir, now: () => now });
  later.record(0, 0);
  now += 20 * 365 * 24 * HOUR + 30 * 60_000;
  later.record(600, 60_000);
  t.deepEqual(later.history(), [{ hourMs: now - (now % HOUR), bytes: 600, seconds: 60 }]);
  // And set back a day: that hour goes before, in order.
  now -= 24 * HOUR;
  later.record(1200, 120_000);
  t.deepEqual(later.history().map((h) => h.hourMs), [now - (now % HOUR), now - (now % HOUR) + 24 * HOUR]);
});

test('a malformed history file is dropped, never trusted', (t) => {
  t.deepEqual(parseHistory('not json'), []);
  t.deepEqual(parseHistory(JSON.stringify({ hours: [{ hourMs: 1, bytes: -5, seconds: 1 }, { hourMs: 2, bytes: 7, seconds: 99999 }, { hourMs: 3, bytes: 7, seconds: 10 }] })), [
    { hourMs: 3, bytes: 7, seconds: 10 },
  ]);
  const dataDir = tempDir(t, 'hearth-writes-');
  writeFileSync(join(dataDir, DISK_WRITES_FILE), '{"hours": "x"}');
  t.deepEqual(parseHistory(readFileSync(join(dataDir, DISK_WRITES_FILE), 'utf8')), []);
});
