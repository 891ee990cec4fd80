/**
 * POST /search (room_events) on the room stack: which rooms and events are searched (joined, left up
 * to the leave, not encrypted, not others'), word-prefix matching on the three keys, both orders and
 * their pages, context with profiles, groups, state, redactions and bad input.
 */
import test from 'ava';
import { call, openRoomStack } from '../helpers/room-stack.js';

const ALICE = '@alice:test.local';
const BOB = '@bob:test.local';
const V3 = '/_matrix/client/v3';

let txn = 0;

async function world(t: { teardown(fn: () => unknown): void }) {
  const s = await openRoomStack();
  t.teardown(() => s.close());
  const room = async (name: string, opts: Record<string, unknown> = {}) =>
    (await call(s, 'POST', `${V3}/createRoom`, ALICE, { preset: 'public_chat', name, topic: `${name} sensors`, ...opts })).body.room_id as string;
  const say = async (roomId: string, body: string, user = ALICE) =>
    (await call(s, 'PUT', `${V3}/rooms/${encodeURIComponent(roomId)}/send/m.room.message/s${++txn}`, user, { msgtype: 'm.text', body })).body.event_id as string;
  const join = (roomId: string) => call(s, 'POST', `${V3}/join/${encodeURIComponent(roomId)}`, BOB, {});

  const hall = await room('Hall');
  const secret = await room('Vault', { initial_state: [{ type: 'm.room.encryption', state_key: '', content: { algorithm: 'm.megolm.v1.aes-sha2' } }] });
  const private_ = await room('Study');
  const garage = await room('Garage');
  for (const r of [hall, secret, garage]) await join(r);
  await call(s, 'PUT', `${V3}/rooms/${encodeURIComponent(hall)}/state/m.room.member/${encodeURIComponent(BOB)}`, BOB, { membership: 'join', displayname: 'Bob B.' });
  const ids: Record<string, string> = {};
  ids.opened = await say(hall, 'Front door opened');
  ids.temp = await say(hall, 'Temperature in the kitchen is 21', BOB);
  await say(secret, 'door code is 1234');
  await say(private_, 'study door squeaks');
  ids.garage = await say(garage, 'The garage door is open and the garage light is on');
  await call(s, 'POST', `${V3}/rooms/${encodeURIComponent(garage)}/leave`, BOB, {});
  await say(garage, 'garage door closed after Bob left');
  ids.closed = await say(hall, 'front DOOR closed');
  ids.redacted = await say(hall, 'door left ajar');
  await call(s, 'PUT', `${V3}/rooms/${encodeURIComponent(hall)}/redact/${encodeURIComponent(ids.redacted)}/r1`, ALICE, {});
  const search = (criteria: Record<string, unknown>, nextBatch?: string) =>
    call(s, 'POST', `${V3}/search${nextBatch ? `?next_batch=${encodeURIComponent(nextBatch)}` : ''}`, BOB, { search_categories: { room_events: criteria } });
  return { s, hall, garage, ids, search };
}

const bodies = (res: { body: any }) => res.body.search_categories.room_events.results.map((r: any) => r.result.content.body ?? r.result.content.name ?? r.result.content.topic);

test('recent: newest first over joined rooms and left rooms up to the leave; not encrypted, others\' or redacted events', async (t) => {
  const { search } = await world(t);
  const res = await search({ search_term: 'door', order_by: 'recent' });
  t.is(res.status, 200);
  t.deepEqual(bodies(res), ['front DOOR closed', 'The garage door is open and the garage light is on', 'Front door opened']);
  t.deepEqual(res.body.search_categories.room_events.highlights, ['door']);
  t.is(res.body.search_categories.room_events.next_batch, undefined);
  const prefix = await search({ search_term: 'TEMP kitch', order_by: 'recent' });
  t.deepEqual(bodies(prefix), ['Temperature in the kitchen is 21'], 'every word of the term, as a word prefix, any case');
  t.deepEqual(bodies(await search({ search_term: 'door cellar' })), [], 'all words must match');
});

test('rank: denser matches first; keys choose the fields; rooms and senders filter', async (t) => {
  const { search, hall } = await world(t);
  const ranked = await search({ search_term: 'garage' });
  t.deepEqual(bodies(ranked).slice(0, 2), ['Garage', 'Garage sensors'], 'the room name and topic outrank a long message');
  t.true(ranked.body.search_categories.room_events.results[0].rank > ranked.body.search_categories.room_events.results[2].rank);
  t.deepEqual(bodies(await search({ search_term: 'sensors', keys: ['content.topic'], order_by: 'recent' })), ['Garage sensors', 'Hall sensors'], 'not the encrypted Vault');
  const names = await search({ search_term: 'hall', keys: ['content.name'] });
  t.deepEqual(bodies(names), ['Hall']);
  const onlyBob = await search({ search_term: 'kitchen', filter: { senders: [BOB] } });
  t.deepEqual(bodies(onlyBob), ['Temperature in the kitchen is 21']);
  const notHall = await search({ search_term: 'door', order_by: 'recent', filter: { not_rooms: [hall] } });
  t.deepEqual(bodies(notHall), ['The garage door is open and the garage light is on']);
});

test('pages of filter.limit in both orders cover every result once', async (t) => {
  const { search } = await world(t);
  for (const order_by of ['recent', 'rank']) {
    const all = bodies(await search({ search_term: 'door', order_by }));
    const seen: string[] = [];
    let next: string | undefined;
    let pages = 0;
    do {
      const page = await search({ search_term: 'door', order_by, filter: { limit: 2 } }, next);
      t.is(page.status, 200);
      seen.push(...bodies(page));
      next = page.body.search_categories.room_events.next_batch;
      pages++;
    } while (next && pages < 10);
    t.deepEqual(seen, all, order_by);
    t.is(pages, 2, order_by);
  }
});

test('context with profiles, groups by room and sender, and the rooms\' state', async (t) => {
  const { search, hall, ids } = await world(t);
  const res = await search({
    search_term: 'temperature',
    event_context: { before_limit: 1, after_limit: 1, include_profile: true },
    groupings: { group_by: [{ key: 'room_id' }, { key: 'sender' }] },
    include_state: true,
  });
  const events = res.body.search_categories.room_events;
  t.is(events.count, 1);
  const [hit] = events.results;
  t.is(hit.result.event_id, ids.temp);
  t.deepEqual(hit.context.events_before.map((e: any) => e.content.body), ['Front door opened']);
  t.deepEqual(hit.context.events_after.map((e: any) => e.content.body), ['front DOOR closed'], 'the garage is another room');
  t.deepEqual(hit.context.profile_info[BOB], { displayname: 'Bob B.' }, 'as the member event said at the time');
  t.is(typeof hit.context.start, 'string');
  t.deepEqual(events.groups.room_id[hall], { results: [ids.temp], order: 1 });
  t.deepEqual(Object.keys(events.groups.sender), [BOB]);
  t.true(events.state[hall].some((e: any) => e.type === 'm.room.name' && e.content.name === 'Hall'));
});

test('bad input is 400 and nothing breaks', async (t) => {
  const { s, search } = await world(t);
  const cases: [Record<string, unknown>, string][] = [
    [{}, 'M_MISSING_PARAM'],
    [{ search_term: 'x', keys: ['content.url'] }, 'M_INVALID_PARAM'],
    [{ search_term: 'x', order_by: 'oldest' }, 'M_INVALID_PARAM'],
    [{ search_term: 'x', filter: { senders: 'bob' } }, 'M_BAD_JSON'],
    [{ search_term: 'x', event_context: { before_limit: -1 } }, 'M_INVALID_PARAM'],
    [{ search_term: 'x', groupings: { group_by: [{ key: 'type' }] } }, 'M_INVALID_PARAM'],
  ];
  for (const [criteria, errcode] of cases) {
    const res = await search(criteria);
    t.is(res.status, 400, JSON.stringify(criteria));
    t.is(res.body.errcode, errcode, JSON.stringify(criteria));
  }
  t.is((await search({ search_term: 'door', order_by: 'recent' }, 'r2_5')).body.errcode, 'M_INVALID_PARAM', 'a rank token for a recent search');
  t.is((await search({ search_term: 'door' }, 'garbage')).status, 400);
  const noCategories = await call(s, 'POST', `${V3}/search`, BOB, {});
  t.is(noCategories.body.errcode, 'M_BAD_JSON');
  t.deepEqual((await call(s, 'POST', `${V3}/search`, BOB, { search_categories: {} })).body, { search_categories: {} });
  t.is((await search({ search_term: 'door' })).status, 200);
});
