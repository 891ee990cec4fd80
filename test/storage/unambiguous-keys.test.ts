/**
 * Composite keys cannot collide, whatever their strings contain (issue 10, finding 1): a state event
 * of type `m.room.power_levels\0` once came back after a restart as the room's power levels, because
 * `(type, state_key)` was stored as `type 00 key 00` and read back by splitting at the first NUL.
 * Tuple keys (storage/codec.ts) and in-memory state keys (core/types.ts) are now escaped; storage
 * version 3 moves the keys a version-2 data directory wrote.
 */
import test from 'ava';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compositeKey, splitStateKey, stateKey } from '../../src/core/types.js';
import { encodeJson, splitStrings, tuple, u32, u64 } from '../../src/storage/codec.js';
import { Database } from '../../src/storage/db.js';
import { STORAGE_VERSION } from '../../src/storage/keyspaces.js';
import { StateSnapshotStore } from '../../src/storage/state-snapshots.js';
import { txnEndpoint, txnKey } from '../../src/storage/rooms.js';
import { readingsOfV2Key } from '../../src/storage/migrations/0003-unambiguous-keys.js';

const PL = 'm.room.power_levels';
const tempDir = () => mkdtempSync(join(tmpdir(), 'hearth-keys-'));
const openDb = (dir: string) => Database.open(dir, { cacheSizeBytes: 1 << 20, writeBufferSizeBytes: 1 << 20 });
/** How versions 1 and 2 encoded a tuple: each string as raw UTF-8 plus 0x00. */
const v2 = (...parts: string[]) => Buffer.concat(parts.flatMap((p) => [Buffer.from(p, 'utf8'), Buffer.from([0])]));

test('tuple keys of different string lists never collide, and read back as written', (t) => {
  const lists: string[][] = [
    [`${PL}\0`, ''],
    [PL, '\0'],
    [PL, ''],
    ['a\0', 'b'],
    ['a', '\0b'],
    ['a\u0001', 'b'],
    ['a', '\u0001\u0001b'],
    ['a\u0001\u0001', 'b'],
  ];
  const keys = lists.map((l) => tuple(...l).toString('latin1'));
  t.is(new Set(keys).size, lists.length);
  for (const l of lists) t.deepEqual(splitStrings(tuple(...l), l.length).strings, l);
  // The only 0x00 bytes of an encoded string are terminators.
  t.is(tuple(`${PL}\0`, '').indexOf(0), Buffer.byteLength(PL) + 2);
});

test('tuple keys keep string order and the version-2 bytes of NUL-free strings', (t) => {
  const strings = ['', '\0', '\0\0', '\u0001', '\u0001a', '\u0002', 'a', 'a\0', 'a\0b', 'a\u0001', 'ab', '@alice:x', '\u00e9'];
  const sorted = [...strings].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  const byKey = [...strings].sort((a, b) => Buffer.compare(tuple(a, 'z'), tuple(b, 'z')));
  t.deepEqual(byKey, sorted);
  t.deepEqual(tuple('@alice:example.org', 'DEVICE', u64(7)), Buffer.concat([v2('@alice:example.org', 'DEVICE'), u64(7)]));
});

test('in-memory state keys and composite keys are unambiguous', (t) => {
  t.not(stateKey(`${PL}\0`, ''), stateKey(PL, '\0'));
  t.not(stateKey(`${PL}\0`, ''), stateKey(PL, ''));
  t.deepEqual(splitStateKey(stateKey(`${PL}\0`, '')), [`${PL}\0`, '']);
  t.deepEqual(splitStateKey(stateKey('a\u0001\u0001', 'b\0c')), ['a\u0001\u0001', 'b\0c']);
  t.is(stateKey(PL, ''), `${PL}\0`, 'real types keep their form');
  t.not(compositeKey('a\0', 'b'), compositeKey('a', '\0b'));
});

test('a state type with NUL is interned apart from the real one, also after a restart', async (t) => {
  const dir = tempDir();
  let db = await openDb(dir);
  let snapshots = new StateSnapshotStore(db);
  await snapshots.open();
  const ops: Parameters<StateSnapshotStore['stateKeyShortTxn']>[0] = [];
  const real = snapshots.stateKeyShortTxn(ops, PL, '');
  const forged = snapshots.stateKeyShortTxn(ops, `${PL}\0`, '');
  const forged2 = snapshots.stateKeyShortTxn(ops, PL, '\0');
  await db.write(ops);
  t.is(new Set([real, forged, forged2]).size, 3);
  await db.close();

  db = await openDb(dir);
  snapshots = new StateSnapshotStore(db);
  await snapshots.open();
  t.deepEqual(snapshots.stateKeyOf(real), [PL, '']);
  t.deepEqual(snapshots.stateKeyOf(forged), [`${PL}\0`, '']);
  t.deepEqual(snapshots.stateKeyOf(forged2), [PL, '\0']);
  t.is(snapshots.lookupStateKeyShort(PL, ''), real);
  await db.close();
});

test('the version-2 reader saw several tuples in one key; each reading fills the key', (t) => {
  const key = v2(`${PL}\0`, '');
  t.deepEqual(readingsOfV2Key(key, ['s', 's']), [[PL, '\0'], [`${PL}\0`, '']]);
  t.deepEqual(readingsOfV2Key(Buffer.concat([v2('@a:x', 'D'), u64(256)]), ['s', 's', 8]), [['@a:x', 'D', u64(256)]]);
});

test('a version-2 data directory is migrated: forged state keys resolved from their events, U+0001 escaped, txn ids scoped', async (t) => {
  const dir = tempDir();
  let db = await openDb(dir);
  const room = '!room:test.local';
  // The attack as a version-2 store held it: the real power levels interned as short 1, the forged
  // type `m.room.power_levels\0` as short 2, its old key read back by the old code as (PL, "\0").
  const forgedPdu = { type: `${PL}\0`, state_key: '', room_id: room, sender: '@mod:test.local', content: { users: { '@mod:test.local': 100 } } };
  const realPdu = { type: PL, state_key: '', room_id: room, sender: '@alice:test.local', content: { users: { '@alice:test.local': 100 } } };
  const messagePdu = { type: 'm.room.message', room_id: room, sender: '@alice:test.local', content: { body: 'hi' } };
  const raw = (name: Parameters<Database['space']>[0], key: Buffer, value: Buffer) => db.space(name).put(key, value);
  await raw('eventJson', u64(1), encodeJson(realPdu));
  await raw('eventJson', u64(2), encodeJson(forgedPdu));
  await raw('eventJson', u64(3), encodeJson(messagePdu));
  await raw('stateKeyShort', v2(PL, ''), u32(1));
  await raw('stateKeyByShort', u32(1), v2(PL, ''));
  await raw('stateKeyShort', v2(`${PL}\0`, ''), u32(2));
  await raw('stateKeyByShort', u32(2), v2(`${PL}\0`, ''));
  // A legitimate (if odd) U+0001 in a state key: raw in version 2, escaped in version 3.
  await raw('stateKeyShort', v2('org.example', 'a\u0001b'), u32(3));
  await raw('stateKeyByShort', u32(3), v2('org.example', 'a\u0001b'));
  // A transaction id of PUT /send, and an account data type with NUL.
  await raw('eventShortById', Buffer.from('$msg'), u64(3));
  await raw('eventMeta', u64(3), encodeJson({ eventId: '$msg', roomShort: 1, stream: 3, depth: 3, stateBefore: 0, stateAfter: 0, txn: { userId: '@alice:test.local', deviceId: 'DEV', txnId: 't1' } }));
  await raw('txnIds', v2('@alice:test.local', 'DEV', 't1'), Buffer.from('$msg'));
  await raw('accountData', v2('@alice:test.local', '', 'x.y'), encodeJson({ content: { a: 1 }, stream: 4 }));
  await db.write([db.putMeta('schema_version', 2)]);
  await db.close();

  db = await openDb(dir);
  t.is(await db.getMeta<number>('schema_version'), STORAGE_VERSION);
  const snapshots = new StateSnapshotStore(db);
  await snapshots.open();
  t.deepEqual(snapshots.stateKeyOf(1), [PL, '']);
  t.deepEqual(snapshots.stateKeyOf(2), [`${PL}\0`, ''], 'the forged type is itself, not a variant of the power levels');
  t.deepEqual(snapshots.stateKeyOf(3), ['org.example', 'a\u0001b']);
  t.is(snapshots.lookupStateKeyShort(PL, ''), 1);
  t.deepEqual(await db.space('stateKeyByShort').get(u32(2)), tuple(`${PL}\0`, ''));
  // Unchanged keys stay where they were; the transaction id moved under its endpoint.
  t.deepEqual(await db.getJson('accountData', tuple('@alice:test.local', '', 'x.y')), { content: { a: 1 }, stream: 4 });
  t.is(await db.space('txnIds').get(v2('@alice:test.local', 'DEV', 't1')), undefined);
  const scoped = await db.space('txnIds').get(txnKey('@alice:test.local', 'DEV', txnEndpoint(room, { type: 'm.room.message' }), 't1'));
  t.is(scoped?.toString(), '$msg');
  await db.close();
});
