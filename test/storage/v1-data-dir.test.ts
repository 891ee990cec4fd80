/**
 * Opening a data directory in the version-1 layout (migration 0002, "the relations index", from a
 * store that never had one). No Hearth of version 1 is left to write a fixture, so the test writes
 * one: a room with a thread, a reaction and an edit through today's room API, then the store is
 * taken back to what version 1 held, with the low-level Database API: no `relations`, `threads` or
 * `thread_roots` entries, no `related` mark in `event_meta`, `txn_ids` keyed `user ‖ device ‖ txn`
 * (the pre-version-3 layout; none of the strings holds a NUL, so the other tuple keys are the same
 * bytes in every version), and `schema_version` 1. Opening it must run 0002 (and 0003 after it) and
 * leave an index the engine answers from.
 */
import test from 'ava';
import { call, openRoomStack, type RoomStack } from '../helpers/room-stack.js';
import { Database } from '../../src/storage/db.js';
import { decodeJson, encodeJson, readU64, tuple } from '../../src/storage/codec.js';
import { STORAGE_VERSION } from '../../src/storage/keyspaces.js';
import type { EventMeta } from '../../src/storage/events.js';

const ALICE = '@alice:test.local';
const BOB = '@bob:test.local';
const V1 = '/_matrix/client/v1';
const V3 = '/_matrix/client/v3';
const DB_OPTS = { cacheSizeBytes: 1 << 20, writeBufferSizeBytes: 1 << 20 };

const text = (body: string) => ({ msgtype: 'm.text', body });

async function shortOf(db: Database, eventId: string): Promise<number> {
  const short = await db.space('eventShortById').get(Buffer.from(eventId, 'utf8'));
  if (short === undefined) throw new Error(`${eventId} is not stored`);
  return readU64(short);
}

async function metaOf(db: Database, eventId: string): Promise<EventMeta> {
  const meta = await db.space('eventMeta').get(Buffer.from(await db.space('eventShortById').get(Buffer.from(eventId, 'utf8')) ?? []));
  if (meta === undefined) throw new Error(`no meta for ${eventId}`);
  return decodeJson<EventMeta>(meta);
}

async function count(db: Database, space: 'relations' | 'threads' | 'threadRoots'): Promise<number> {
  let n = 0;
  for await (const _ of db.space(space).keys()) n++;
  return n;
}

/**
 * Takes a store written by today's code back to the version-1 layout (see the file comment) and
 * reads back what is left, before closing: opening the store again would migrate it.
 */
async function downgradeToV1(dir: string, parent: string) {
  const db = await Database.open(dir, DB_OPTS);
  try {
    const ops = [];
    for (const space of ['relations', 'threads', 'threadRoots'] as const) {
      for await (const key of db.space(space).keys()) ops.push(db.del(space, key));
    }
    for await (const [key, value] of db.space('eventMeta').iterator()) {
      const meta = decodeJson<EventMeta>(value);
      if (meta.related !== undefined) {
        delete meta.related;
        ops.push(db.put('eventMeta', Buffer.from(key), encodeJson(meta)));
      }
    }
    // Version 3 scoped transaction ids per endpoint; before, the key was `user ‖ device ‖ txn`.
    for await (const [key, value] of db.space('txnIds').iterator()) {
      const meta = await metaOf(db, Buffer.from(value).toString('utf8'));
      ops.push(db.del('txnIds', Buffer.from(key)));
      ops.push(db.put('txnIds', tuple(meta.txn!.userId, meta.txn!.deviceId, meta.txn!.txnId), Buffer.from(value)));
    }
    ops.push(db.putMeta('schema_version', 1));
    await db.write(ops);
    return {
      schemaVersion: await db.getMeta<number>('schema_version'),
      relations: await count(db, 'relations'),
      threads: await count(db, 'threads'),
      threadRoots: await count(db, 'threadRoots'),
      rootRelated: (await metaOf(db, parent)).related,
    };
  } finally {
    await db.close();
  }
}

test('a version-1 data dir opens with the relations index built by migration 0002', async (t) => {
  const first = await openRoomStack();
  const roomId = (await call(first, 'POST', `${V3}/createRoom`, ALICE, { preset: 'public_chat' })).body.room_id as string;
  const room = encodeURIComponent(roomId);
  await call(first, 'POST', `${V3}/rooms/${room}/join`, BOB, {});
  let txn = 0;
  const send = async (s: RoomStack, user: string, content: Record<string, unknown>, type = 'm.room.message', txnId = `t${++txn}`) => {
    const res = await call(s, 'PUT', `${V3}/rooms/${room}/send/${type}/${txnId}`, user, content);
    if (res.status !== 200) throw new Error(`send failed: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body.event_id as string;
  };
  const root = await send(first, ALICE, text('root'));
  const reply = await send(first, BOB, { ...text('in the thread'), 'm.relates_to': { rel_type: 'm.thread', event_id: root } });
  const reaction = await send(first, BOB, { 'm.relates_to': { rel_type: 'm.annotation', event_id: root, key: '👍' } }, 'm.reaction');
  const target = await send(first, ALICE, text('typo'));
  const edit = await send(first, ALICE, {
    ...text('* fixed'),
    'm.new_content': text('fixed'),
    'm.relates_to': { rel_type: 'm.replace', event_id: target },
  });
  const relationsOf = async (s: RoomStack, parent: string) =>
    (await call(s, 'GET', `${V1}/rooms/${room}/relations/${encodeURIComponent(parent)}`, BOB)).body.chunk.map((e: { event_id: string }) => e.event_id);
  const before = { root: await relationsOf(first, root), target: await relationsOf(first, target) };
  await first.close();

  const left = await downgradeToV1(first.dir, root);
  // The store really is version 1 now: without this the test would pass with no migration at all.
  t.deepEqual(left, { schemaVersion: 1, relations: 0, threads: 0, threadRoots: 0, rootRelated: undefined });

  const migrated = await openRoomStack(first.dir, first.key);
  t.teardown(() => migrated.close());
  const { db, engine } = migrated;
  t.is(await db.getMeta<number>('schema_version'), STORAGE_VERSION, 'migrated through every version since 1');

  // The index the engine reads, rebuilt from the stored events.
  const rootShort = await shortOf(db, root);
  const children = await engine.relationChildren(rootShort, { dir: 'f' });
  t.deepEqual(
    children.map(({ stream: _, ...entry }) => entry),
    [
      { childShort: await shortOf(db, reply), relType: 'm.thread', type: 'm.room.message', sender: BOB },
      { childShort: await shortOf(db, reaction), relType: 'm.annotation', type: 'm.reaction', sender: BOB, key: '👍' },
    ],
  );
  t.deepEqual(
    (await engine.relationChildren(await shortOf(db, target), { dir: 'f' })).map((c) => [c.childShort, c.relType]),
    [[await shortOf(db, edit), 'm.replace']],
  );
  t.true((await metaOf(db, root)).related, 'the parent is marked');
  t.true((await metaOf(db, target)).related, 'the edited event is marked');
  const roomShort = decodeJson<{ short: number }>((await db.space('rooms').get(Buffer.from(roomId, 'utf8')))!).short;
  t.deepEqual(
    (await engine.threads(roomShort, { limit: 10 })).map((th) => th.rootShort),
    [rootShort],
  );

  // And through the API, the same as before the downgrade; the edit applies again.
  t.deepEqual({ root: await relationsOf(migrated, root), target: await relationsOf(migrated, target) }, before);
  const edited = await call(migrated, 'GET', `${V3}/rooms/${room}/event/${encodeURIComponent(target)}`, BOB);
  t.is(edited.body.unsigned['m.relations']['m.replace'].event_id, edit);
  // The version-1 transaction ids were carried through 0003: a retry returns the stored event.
  t.is(await send(migrated, BOB, { 'm.relates_to': { rel_type: 'm.annotation', event_id: root, key: '👍' } }, 'm.reaction', 't3'), reaction);
});
