/**
 * The broker's write-behind buffer: a read between a flush starting and its batch landing in LevelDB
 * sees the new value (CI once saw a fresh subscriber get a replaced retained message because of that
 * window), and a batch that fails to write goes back into the window without overwriting anything
 * written since (issue 10: writes recover after an I/O error, nothing lost).
 */
import test from 'ava';
import type { BatchOp } from '../../src/storage/db.js';
import { WriteBehind } from '../../src/mqtt/broker/write-behind.js';
import { openDb, tempDir } from './broker-fixtures.js';

const key = (s: string) => Buffer.from(s);
const text = (v: Buffer | null | undefined) => (v == null ? v : v.toString());

test('a read while the batch is being written sees the value being written, then LevelDB has it', async (t) => {
  const db = await openDb(tempDir());
  t.teardown(() => db.close());
  await db.write([db.put('mqttRetained', key('r/1'), Buffer.from('old'))]);
  const writes = new WriteBehind(db, 60_000, () => undefined);
  writes.put('mqttRetained', key('r/1'), Buffer.from('new'));
  writes.del('mqttRetained', key('r/2'));
  const landing = writes.flush();
  t.is(text(writes.peek('mqttRetained', key('r/1'))), 'new', 'not the old value LevelDB still holds');
  t.is(writes.peek('mqttRetained', key('r/2')), null, 'a delete in flight reads as deleted');
  await landing;
  t.is(writes.peek('mqttRetained', key('r/1')), undefined, 'written: reads go to LevelDB');
  t.is(text(await db.space('mqttRetained').get(key('r/1'))), 'new');
});

test('a failed batch is retried with the next window, and does not undo a later write to the same key', async (t) => {
  const db = await openDb(tempDir());
  t.teardown(() => db.close());
  const realWrite = db.write.bind(db);
  let failures = 1;
  db.write = async (ops: BatchOp[]) => {
    if (failures-- > 0) throw Object.assign(new Error('no space left on device'), { code: 'ENOSPC' });
    return realWrite(ops);
  };
  const errors: unknown[] = [];
  const writes = new WriteBehind(db, 60_000, (err) => errors.push(err));
  writes.put('mqttRetained', key('a'), Buffer.from('a1'));
  writes.put('mqttRetained', key('b'), Buffer.from('b1'));
  const failing = writes.flush();
  // Flushed after the failing one, while it is still in flight: the newer value of `a`.
  writes.put('mqttRetained', key('a'), Buffer.from('a2'));
  const later = writes.flush();
  await t.throwsAsync(failing, { message: 'no space left on device' });
  await later;
  t.is(text(writes.peek('mqttRetained', key('b'))), 'b1', 'b went back into the window');
  t.is(writes.peek('mqttRetained', key('a')), undefined, 'a1 was superseded by a2 and not put back');
  await writes.flush();
  t.is(text(await db.space('mqttRetained').get(key('a'))), 'a2');
  t.is(text(await db.space('mqttRetained').get(key('b'))), 'b1');
});
