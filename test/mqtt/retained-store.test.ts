/**
 * The retained store on its own: wildcard matching as MQTT 3.1.1 section 4.7 has it, payloads read
 * from the write-behind buffer before it is written and from LevelDB after, and the value format
 * (with the owner; older values without one).
 */
import test from 'ava';
import type { AedesPublishPacket } from 'aedes';
import { decodeRetained, encodeRetained, RetainedStore } from '../../src/mqtt/broker/retained-store.js';
import { WriteBehind } from '../../src/mqtt/broker/write-behind.js';
import { openDb, tempDir } from './broker-fixtures.js';

const LIMITS = { maxMessages: 100, maxBytes: 1_000_000, maxMessagesPerClient: 100, maxBytesPerClient: 1_000_000 };

async function topicsOf(store: RetainedStore, filters: string[]): Promise<string[]> {
  const out: string[] = [];
  for await (const packet of store.stream(filters)) out.push(`${(packet as AedesPublishPacket).topic}=${(packet as AedesPublishPacket).payload.toString()}`);
  return out;
}

test('matching: # covers the parent level, + one level, a leading wildcard never a $ topic, a literal is a lookup', async (t) => {
  const db = await openDb(tempDir());
  t.teardown(() => db.close());
  const writes = new WriteBehind(db, 60_000, () => undefined);
  const store = new RetainedStore(db, writes, LIMITS);
  for (const topic of ['a', 'a/b', 'a/b/c', 'x/b', '$SYS/uptime']) {
    const payload = Buffer.from(topic.length.toString());
    t.true(store.admit('device:a', topic, payload.length, 1).ok);
    store.store({ topic, payload, qos: 1 });
  }
  // Read from the write-behind buffer (nothing written yet)...
  t.deepEqual(await topicsOf(store, ['a/#']), ['a=1', 'a/b=3', 'a/b/c=5']);
  t.deepEqual(await topicsOf(store, ['+/b']), ['a/b=3', 'x/b=3']);
  t.deepEqual(await topicsOf(store, ['#']), ['a=1', 'a/b=3', 'a/b/c=5', 'x/b=3']);
  t.deepEqual(await topicsOf(store, ['$SYS/#', 'a/b/c', 'nothing']), ['$SYS/uptime=11', 'a/b/c=5']);
  // ... and from LevelDB once it is, the buffer empty.
  await writes.flush();
  t.deepEqual(await topicsOf(store, ['a/+']), ['a/b=3']);
  store.store({ topic: 'a/b', payload: Buffer.alloc(0), qos: 0 });
  t.deepEqual(await topicsOf(store, ['a/+']), [], 'a pending delete hides the written value');
  t.deepEqual(store.usageOf('device:a'), { count: 4, bytes: 25 });
  t.deepEqual({ count: store.size, bytes: store.bytes }, { count: 4, bytes: 1 + 5 + 3 + 11 + (1 + 1 + 1 + 2) });
});

test('values: the owner is kept; a value from before owners reads as the broker\'s', (t) => {
  const value = encodeRetained(1, 'device:kitchen', Buffer.from('ON'));
  t.deepEqual(decodeRetained(value), { qos: 1, owner: 'device:kitchen', payload: Buffer.from('ON') });
  t.deepEqual(decodeRetained(Buffer.from([2, 0x4f, 0x4e])), { qos: 2, owner: '', payload: Buffer.from('ON') });
});
