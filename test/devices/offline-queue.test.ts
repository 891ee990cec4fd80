import test from 'ava';
import { appendFileSync, mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OfflineQueue } from '../../devices/agent/offline-queue.js';

const options = { maxEntries: 100, syncIntervalMs: 10 };

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'hearth-queue-'));
}

test('entries come back in order after reopening; acknowledged ones do not', (t) => {
  const dir = tempDir();
  const queue = OfflineQueue.open(dir, options);
  const entries = [1, 2, 3, 4, 5].map((n) => queue.append({ ts: 1000 + n, values: { n } }));
  queue.ack(entries[0]!.id);
  queue.ack(entries[2]!.id); // acknowledged out of order: 2 is still owed, so 3 stays on disk too
  queue.close();

  const reopened = OfflineQueue.open(dir, options);
  t.deepEqual(
    reopened.after(-1, 10).map((e) => e.reading.values.n),
    [2, 3, 4, 5],
  );
  t.is(reopened.after(-1, 1)[0]!.reading.ts, 1002);
  reopened.close();
});

test('a full queue evicts the oldest and counts them across restarts', (t) => {
  const dir = tempDir();
  const queue = OfflineQueue.open(dir, { maxEntries: 3, syncIntervalMs: 10 });
  for (let n = 1; n <= 5; n++) queue.append({ ts: n, values: { n } });
  t.is(queue.evicted, 2);
  t.deepEqual(queue.after(-1, 10).map((e) => e.reading.values.n), [3, 4, 5]);
  queue.close();
  const reopened = OfflineQueue.open(dir, { maxEntries: 3, syncIntervalMs: 10 });
  t.is(reopened.evicted, 2);
  t.deepEqual(reopened.after(-1, 10).map((e) => e.reading.values.n), [3, 4, 5]);
  reopened.close();
});

test('a torn last record is cut off; the intact ones survive', (t) => {
  const dir = tempDir();
  const queue = OfflineQueue.open(dir, options);
  queue.append({ ts: 1, values: { n: 1 } });
  queue.append({ ts: 2, values: { n: 2 } });
  queue.close();
  const log = join(dir, 'queue.log');
  const intactSize = statSync(log).size;
  appendFileSync(log, Buffer.from([0, 0, 0, 40, 1, 2, 3])); // header of a record that never finished
  const reopened = OfflineQueue.open(dir, options);
  t.deepEqual(reopened.after(-1, 10).map((e) => e.reading.values.n), [1, 2]);
  t.is(statSync(log).size, intactSize);
  reopened.append({ ts: 3, values: { n: 3 } });
  reopened.close();
  t.deepEqual(OfflineQueue.open(dir, options).after(-1, 10).map((e) => e.reading.values.n), [1, 2, 3]);
});

test('draining the queue empties the log file', (t) => {
  const dir = tempDir();
  const queue = OfflineQueue.open(dir, options);
  const entries = [1, 2, 3].map((n) => queue.append({ ts: n, values: { n } }));
  for (const e of entries) queue.ack(e.id);
  t.is(queue.length, 0);
  t.is(statSync(join(dir, 'queue.log')).size, 0);
  queue.append({ ts: 4, values: { n: 4 } });
  queue.close();
  t.deepEqual(OfflineQueue.open(dir, options).after(-1, 10).map((e) => e.reading.values.n), [4]);
});

test('after() skips entries already handed out', (t) => {
  const queue = OfflineQueue.open(tempDir(), options);
  const entries = [1, 2, 3, 4].map((n) => queue.append({ ts: n, values: { n } }));
  t.deepEqual(queue.after(entries[1]!.id, 10).map((e) => e.reading.values.n), [3, 4]);
  t.deepEqual(queue.after(-1, 2).map((e) => e.reading.values.n), [1, 2]);
  queue.close();
});
