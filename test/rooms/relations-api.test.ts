/**
 * Relations over the Client-Server API: threads (aggregation, thread list, participation), edits
 * (the most recent valid one bundled, redactions), reactions (duplicates refused, not bundled),
 * references, /relations pagination and recursion, /sync bundling, and the index across a restart
 * and when rebuilt by the storage migration.
 */
import test from 'ava';
import { call, openRoomStack, type RoomStack } from '../helpers/room-stack.js';
import { u64 } from '../../src/storage/codec.js';
import { STORAGE_VERSION } from '../../src/storage/keyspaces.js';

const ALICE = '@alice:test.local';
const BOB = '@bob:test.local';
const CAROL = '@carol:test.local';
const V1 = '/_matrix/client/v1';
const V3 = '/_matrix/client/v3';

let txn = 0;

interface Room {
  s: RoomStack;
  room: string;
  roomId: string;
  send(user: string, content: Record<string, unknown>, type?: string): Promise<string>;
  get(user: string, path: string): Promise<{ status: number; body: any }>;
}

async function openRoom(t: { teardown(fn: () => unknown): void }, s?: RoomStack): Promise<Room> {
  const stack = s ?? (await openRoomStack());
  if (!s) t.teardown(() => stack.close());
  const created = await call(stack, 'POST', `${V3}/createRoom`, ALICE, { preset: 'public_chat' });
  const roomId = created.body.room_id as string;
  const room = encodeURIComponent(roomId);
  for (const user of [BOB, CAROL]) await call(stack, 'POST', `${V3}/rooms/${room}/join`, user, {});
  return {
    s: stack,
    room,
    roomId,
    async send(user, content, type = 'm.room.message') {
      const res = await call(stack, 'PUT', `${V3}/rooms/${room}/send/${type}/t${++txn}`, user, content);
      if (res.status !== 200) throw new Error(`send failed: ${res.status} ${JSON.stringify(res.body)}`);
      return res.body.event_id as string;
    },
    get: (user, path) => call(stack, 'GET', path.replace('{room}', room), user),
  };
}

const text = (body: string) => ({ msgtype: 'm.text', body });
const inThread = (root: string, body: string) => ({ ...text(body), 'm.relates_to': { rel_type: 'm.thread', event_id: root } });
const edit = (target: string, body: string) => ({
  ...text(`* ${body}`),
  'm.new_content': text(body),
  'm.relates_to': { rel_type: 'm.replace', event_id: target },
});
const reaction = (target: string, key: string) => ({ 'm.relates_to': { rel_type: 'm.annotation', event_id: target, key } });
const reference = (target: string) => ({ ...text('see above'), 'm.relates_to': { rel_type: 'm.reference', event_id: target } });
const ev = (id: string) => `{room}/event/${encodeURIComponent(id)}`;

test('a thread root carries its m.thread aggregation: latest reply, count, and the viewer\'s participation', async (t) => {
  const r = await openRoom(t);
  const root = await r.send(ALICE, text('which sensor is flaky?'));
  await r.send(BOB, inThread(root, 'the hallway one'));
  await r.send(ALICE, inThread(root, 'battery?'));
  const last = await r.send(BOB, inThread(root, 'yes, 5%'));

  const asBob = await r.get(BOB, `${V3}/rooms/${ev(root)}`);
  const thread = asBob.body.unsigned['m.relations']['m.thread'];
  t.is(thread.count, 3);
  t.is(thread.latest_event.event_id, last);
  t.is(thread.latest_event.content.body, 'yes, 5%');
  t.is(thread.latest_event.sender, BOB);
  t.true(thread.current_user_participated);
  const asCarol = await r.get(CAROL, `${V3}/rooms/${ev(root)}`);
  t.false(asCarol.body.unsigned['m.relations']['m.thread'].current_user_participated, 'Carol neither started nor replied');
  const plain = await r.get(BOB, `${V3}/rooms/${ev(last)}`);
  t.is(plain.body.unsigned['m.relations'], undefined, 'an event without children has no aggregations');

  // The same bundle in /messages and /context.
  const messages = await r.get(BOB, `${V3}/rooms/{room}/messages?dir=b&limit=10`);
  const inMessages = messages.body.chunk.find((e: any) => e.event_id === root);
  t.deepEqual(inMessages.unsigned['m.relations']['m.thread'].count, 3);
  const context = await r.get(BOB, `${V3}/rooms/{room}/context/${encodeURIComponent(root)}?limit=2`);
  t.is(context.body.event.unsigned['m.relations']['m.thread'].latest_event.event_id, last);
});

test('the thread list is ordered by latest reply, filters participation, and paginates', async (t) => {
  const r = await openRoom(t);
  const heating = await r.send(ALICE, text('heating schedule'));
  const lights = await r.send(BOB, text('garden lights'));
  const door = await r.send(ALICE, text('front door lock'));
  await r.send(BOB, inThread(heating, '21 degrees'));
  await r.send(ALICE, inThread(lights, 'at sunset'));
  await r.send(ALICE, inThread(door, 'auto-lock at 23:00'));
  await r.send(CAROL, inThread(heating, 'and 18 at night')); // heating is now the most recent thread

  const all = await r.get(BOB, `${V1}/rooms/{room}/threads?limit=10`);
  t.is(all.status, 200);
  t.deepEqual(all.body.chunk.map((e: any) => e.content.body), ['heating schedule', 'front door lock', 'garden lights']);
  t.is(all.body.chunk[0].unsigned['m.relations']['m.thread'].count, 2);
  t.is(all.body.chunk[0].unsigned['m.relations']['m.thread'].latest_event.content.body, 'and 18 at night');

  const bobs = await r.get(BOB, `${V1}/rooms/{room}/threads?include=participated`);
  t.deepEqual(bobs.body.chunk.map((e: any) => e.event_id), [heating, lights], 'replied in heating, started lights');
  const carols = await r.get(CAROL, `${V1}/rooms/{room}/threads?include=participated`);
  t.deepEqual(carols.body.chunk.map((e: any) => e.event_id), [heating]);

  const page1 = await r.get(BOB, `${V1}/rooms/{room}/threads?limit=2`);
  t.deepEqual(page1.body.chunk.map((e: any) => e.event_id), [heating, door]);
  t.is(typeof page1.body.next_batch, 'string');
  const page2 = await r.get(BOB, `${V1}/rooms/{room}/threads?limit=2&from=${encodeURIComponent(page1.body.next_batch)}`);
  t.deepEqual(page2.body.chunk.map((e: any) => e.event_id), [lights]);
  t.is(page2.body.next_batch, undefined);
});

test('threads off a child event and relations across rooms are refused with 400 M_UNKNOWN', async (t) => {
  const r = await openRoom(t);
  const root = await r.send(ALICE, text('root'));
  const reply = await r.send(BOB, inThread(root, 'reply'));
  const nested = await call(r.s, 'PUT', `${V3}/rooms/${r.room}/send/m.room.message/nested`, ALICE, inThread(reply, 'nested'));
  t.is(nested.status, 400);
  t.is(nested.body.errcode, 'M_UNKNOWN');
  t.regex(nested.body.error, /relation/);

  const other = await call(r.s, 'POST', `${V3}/createRoom`, ALICE, {});
  const elsewhere = await call(r.s, 'PUT', `${V3}/rooms/${encodeURIComponent(other.body.room_id)}/send/m.room.message/x1`, ALICE, inThread(root, 'wrong room'));
  t.is(elsewhere.status, 400);
  t.is(elsewhere.body.errcode, 'M_UNKNOWN');
  t.regex(elsewhere.body.error, /same room/);
  // A reply to an unknown event is allowed (it may arrive later), just not indexed.
  await r.send(ALICE, inThread('$unknown-event', 'orphan'));
  const threads = await r.get(ALICE, `${V1}/rooms/{room}/threads`);
  t.deepEqual(threads.body.chunk.map((e: any) => e.event_id), [root]);
});

test('edits: the most recent valid replacement is bundled; redacting it reverts; redacting the original drops it', async (t) => {
  const r = await openRoom(t);
  const original = await r.send(ALICE, text('tmperature 21'));
  const first = await r.send(ALICE, edit(original, 'temperature 21'));
  const second = await r.send(ALICE, edit(original, 'temperature 21.5'));
  await r.send(BOB, edit(original, 'bob may not edit this')); // invalid: another sender

  const bundled = (await r.get(BOB, `${V3}/rooms/${ev(original)}`)).body;
  t.is(bundled.content.body, 'tmperature 21', 'the original content is left intact');
  t.is(bundled.unsigned['m.relations']['m.replace'].event_id, second);
  t.is(bundled.unsigned['m.relations']['m.replace'].content['m.new_content'].body, 'temperature 21.5');

  await call(r.s, 'PUT', `${V3}/rooms/${r.room}/redact/${encodeURIComponent(second)}/r1`, ALICE, {});
  const reverted = (await r.get(BOB, `${V3}/rooms/${ev(original)}`)).body;
  t.is(reverted.unsigned['m.relations']['m.replace'].event_id, first, 'the redacted edit no longer counts');

  await call(r.s, 'PUT', `${V3}/rooms/${r.room}/redact/${encodeURIComponent(original)}/r2`, ALICE, {});
  const redacted = (await r.get(BOB, `${V3}/rooms/${ev(original)}`)).body;
  t.deepEqual(redacted.content, {});
  t.is(redacted.unsigned['m.relations'], undefined, 'no m.replace on a redacted original');
});

test('reactions: listed by /relations, not bundled; the same reaction twice is 400 M_DUPLICATE_ANNOTATION until redacted', async (t) => {
  const r = await openRoom(t);
  const target = await r.send(ALICE, text('door opened'));
  const thumbs = await r.send(BOB, reaction(target, '👍'), 'm.reaction');
  await r.send(CAROL, reaction(target, '👍'), 'm.reaction');
  await r.send(BOB, reaction(target, '👀'), 'm.reaction');
  const again = await call(r.s, 'PUT', `${V3}/rooms/${r.room}/send/m.reaction/dup1`, BOB, reaction(target, '👍'));
  t.is(again.status, 400);
  t.is(again.body.errcode, 'M_DUPLICATE_ANNOTATION');

  const listed = await r.get(ALICE, `${V1}/rooms/{room}/relations/${encodeURIComponent(target)}/m.annotation/m.reaction?limit=10`);
  t.deepEqual(listed.body.chunk.map((e: any) => `${e.sender} ${e.content['m.relates_to'].key}`), [`${BOB} 👀`, `${CAROL} 👍`, `${BOB} 👍`]);
  t.is((await r.get(ALICE, `${V3}/rooms/${ev(target)}`)).body.unsigned['m.relations'], undefined, 'annotations are not aggregated by the server');

  await call(r.s, 'PUT', `${V3}/rooms/${r.room}/redact/${encodeURIComponent(thumbs)}/r3`, BOB, {});
  const afterRedaction = await r.get(ALICE, `${V1}/rooms/{room}/relations/${encodeURIComponent(target)}/m.annotation?limit=10`);
  t.is(afterRedaction.body.chunk.length, 2, 'a redacted reaction breaks its relation');
  await r.send(BOB, reaction(target, '👍'), 'm.reaction');
});

test('/relations pages both ways with next_batch, bounded by from/to, and aggregates references', async (t) => {
  const r = await openRoom(t);
  const parent = await r.send(ALICE, text('power cut at 14:02'));
  const refs: string[] = [];
  for (let i = 0; i < 7; i++) refs.push(await r.send(i % 2 ? BOB : ALICE, reference(parent)));
  await r.send(BOB, reaction(parent, '😱'), 'm.reaction');

  const path = `${V1}/rooms/{room}/relations/${encodeURIComponent(parent)}/m.reference`;
  const seen: string[] = [];
  let from: string | undefined;
  let pages = 0;
  do {
    const page = await r.get(ALICE, `${path}?limit=3${from ? `&from=${encodeURIComponent(from)}` : ''}`);
    t.is(page.status, 200);
    seen.push(...page.body.chunk.map((e: any) => e.event_id));
    if (from) t.is(page.body.prev_batch, from);
    from = page.body.next_batch;
    pages++;
  } while (from && pages < 10);
  t.is(pages, 3);
  t.deepEqual(seen, [...refs].reverse(), 'newest first by default');

  const forwards = await r.get(ALICE, `${path}?dir=f&limit=100`);
  t.deepEqual(forwards.body.chunk.map((e: any) => e.event_id), refs);
  const all = await r.get(ALICE, `${V1}/rooms/{room}/relations/${encodeURIComponent(parent)}?limit=100`);
  t.is(all.body.chunk.length, 8, 'without a rel_type every child, the reaction too');
  t.is(all.body.recursion_depth, undefined, 'absent unless recurse was given');

  // A window: forwards after the second reference, up to the fifth.
  const messages = await r.get(ALICE, `${V3}/rooms/${ev(refs[1]!)}`);
  t.is(messages.status, 200);
  const ctx = await r.get(ALICE, `${V3}/rooms/{room}/context/${encodeURIComponent(refs[1]!)}?limit=0`);
  const ctx5 = await r.get(ALICE, `${V3}/rooms/{room}/context/${encodeURIComponent(refs[4]!)}?limit=0`);
  const window = await r.get(ALICE, `${path}?dir=f&from=${encodeURIComponent(ctx.body.end)}&to=${encodeURIComponent(ctx5.body.end)}`);
  t.deepEqual(window.body.chunk.map((e: any) => e.event_id), refs.slice(2, 5));

  const bundled = (await r.get(BOB, `${V3}/rooms/${ev(parent)}`)).body.unsigned['m.relations'];
  t.deepEqual(bundled['m.reference'], { chunk: refs.map((id) => ({ event_id: id })) });
});

test('recurse=true also returns relations of relations, through matching events only', async (t) => {
  const r = await openRoom(t);
  const root = await r.send(ALICE, text('root'));
  const reply = await r.send(BOB, inThread(root, 'reply'));
  const replyEdit = await r.send(BOB, edit(reply, 'reply, edited'));
  const path = `${V1}/rooms/{room}/relations/${encodeURIComponent(root)}`;

  const flat = await r.get(ALICE, `${path}?recurse=false`);
  t.deepEqual(flat.body.chunk.map((e: any) => e.event_id), [reply]);
  t.is(flat.body.recursion_depth, 1);
  const deep = await r.get(ALICE, `${path}?recurse=true&dir=f`);
  t.deepEqual(deep.body.chunk.map((e: any) => e.event_id), [reply, replyEdit]);
  t.is(deep.body.recursion_depth, 3);
  const threadOnly = await r.get(ALICE, `${path}/m.thread?recurse=true`);
  t.deepEqual(threadOnly.body.chunk.map((e: any) => e.event_id), [reply], 'the edit relates through a non-matching type');
  // The thread's latest event carries its own edit.
  const bundled = (await r.get(ALICE, `${V3}/rooms/${ev(root)}`)).body.unsigned['m.relations']['m.thread'].latest_event;
  t.is(bundled.unsigned['m.relations']['m.replace'].event_id, replyEdit);
});

test('/sync bundles aggregations in a limited timeline only', async (t) => {
  const r = await openRoom(t);
  const root = await r.send(ALICE, text('root'));
  await r.send(BOB, inThread(root, 'reply'));
  for (let i = 0; i < 5; i++) await r.send(ALICE, text(`filler ${i}`));
  const sync = async (limit: number) => {
    const filter = encodeURIComponent(JSON.stringify({ room: { timeline: { limit } } }));
    const res = await call(r.s, 'GET', `${V3}/sync?filter=${filter}`, CAROL);
    const timeline = res.body.rooms.join[r.roomId].timeline;
    return { limited: timeline.limited as boolean, root: timeline.events.find((e: any) => e.event_id === root) };
  };
  const whole = await sync(50);
  t.false(whole.limited);
  t.is(whole.root.unsigned['m.relations'], undefined, 'the client sees the reply in the same timeline');
  const limited = await sync(7); // root, reply and the five fillers
  t.true(limited.limited);
  t.is(limited.root.unsigned['m.relations']['m.thread'].count, 1);
  t.is(limited.root.unsigned['m.relations']['m.thread'].latest_event.content.body, 'reply');
  t.false(limited.root.unsigned['m.relations']['m.thread'].current_user_participated);
});

test('the index survives a restart and is rebuilt by the version 1 -> 2 migration', async (t) => {
  const first = await openRoomStack();
  const r = await openRoom(t, first);
  const root = await r.send(ALICE, text('root'));
  const replies = [await r.send(BOB, inThread(root, 'one')), await r.send(ALICE, inThread(root, 'two'))];
  const target = await r.send(ALICE, text('target'));
  await r.send(BOB, reaction(target, '✅'), 'm.reaction');
  const snapshot = async (s: RoomStack) => ({
    thread: (await call(s, 'GET', `${V3}/rooms/${r.room}/event/${encodeURIComponent(root)}`, BOB)).body.unsigned['m.relations'],
    threads: (await call(s, 'GET', `${V1}/rooms/${r.room}/threads`, BOB)).body.chunk.map((e: any) => e.event_id),
    reactions: (await call(s, 'GET', `${V1}/rooms/${r.room}/relations/${encodeURIComponent(target)}`, BOB)).body.chunk.map((e: any) => e.content),
  });
  const before = await snapshot(first);
  t.is(before.thread['m.thread'].latest_event.event_id, replies[1]);
  t.deepEqual(before.threads, [root]);
  await first.close();

  const restarted = await openRoomStack(first.dir, first.key);
  t.teardown(() => restarted.close());
  const after = await snapshot(restarted);
  t.deepEqual(stripAge(after), stripAge(before));

  // Back to a version 1 layout: no index, no marks. Opening migrates and answers the same.
  const { db } = restarted;
  const wipe: any[] = [];
  for await (const key of db.space('relations').keys()) wipe.push(db.del('relations', key));
  for await (const key of db.space('threads').keys()) wipe.push(db.del('threads', key));
  for await (const key of db.space('threadRoots').keys()) wipe.push(db.del('threadRoots', key));
  for await (const [key, value] of db.space('eventMeta').iterator()) {
    const meta = JSON.parse(value.toString());
    if (meta.related) {
      delete meta.related;
      wipe.push(db.put('eventMeta', key, Buffer.from(JSON.stringify(meta))));
    }
  }
  wipe.push(db.putMeta('schema_version', 1));
  await db.write(wipe);
  t.is((await db.space('eventMeta').get(u64(1))) !== undefined, true);
  await restarted.close();
  const migrated = await openRoomStack(first.dir, first.key);
  t.teardown(() => migrated.close());
  t.is(await migrated.db.getMeta<number>('schema_version'), STORAGE_VERSION, 'migrated through every version since 1');
  t.deepEqual(stripAge(await snapshot(migrated)), stripAge(before));
});

test('bad input: unknown parent 404, non-member 403, bad dir/recurse/tokens/include 400', async (t) => {
  const r = await openRoom(t);
  const parent = await r.send(ALICE, text('parent'));
  const rel = `${V1}/rooms/{room}/relations/${encodeURIComponent(parent)}`;
  const cases: [string, string, number, string][] = [
    [ALICE, `${V1}/rooms/{room}/relations/${encodeURIComponent('$nope')}`, 404, 'M_NOT_FOUND'],
    ['@mallory:test.local', rel, 403, 'M_FORBIDDEN'],
    ['@mallory:test.local', `${V1}/rooms/{room}/threads`, 403, 'M_FORBIDDEN'],
    [ALICE, `${rel}?dir=sideways`, 400, 'M_INVALID_PARAM'],
    [ALICE, `${rel}?recurse=yes`, 400, 'M_INVALID_PARAM'],
    [ALICE, `${rel}?from=garbage`, 400, 'M_INVALID_PARAM'],
    [ALICE, `${rel}?limit=-1`, 400, 'M_INVALID_PARAM'],
    [ALICE, `${V1}/rooms/{room}/threads?include=mine`, 400, 'M_INVALID_PARAM'],
    [ALICE, `${V1}/rooms/{room}/threads?from=t12`, 400, 'M_INVALID_PARAM'],
    [ALICE, `${V1}/rooms/${encodeURIComponent('!nope:test.local')}/threads`, 404, 'M_NOT_FOUND'],
  ];
  for (const [user, path, status, errcode] of cases) {
    const res = await r.get(user, path);
    t.is(res.status, status, path);
    t.is(res.body.errcode, errcode, path);
  }
  t.is((await r.get(ALICE, rel)).status, 200, 'still serving');
});

function stripAge(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value, (k, v) => (k === 'age' ? undefined : v)));
}
