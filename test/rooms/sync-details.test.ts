/**
 * /sync details clients written against Synapse rely on (project issue 13): `limited` under a
 * timeline filter, what a rejoin with `joined` history shows, `m.heroes` only for unnamed rooms,
 * `event_format: federation`, and rooms whose only news comes from ignored users.
 */
import test from 'ava';
import { call, openRoomStack, type RoomStack } from '../helpers/room-stack.js';

const ALICE = '@alice:test.local';
const BOB = '@bob:test.local';
const CAROL = '@carol:test.local';
const V3 = '/_matrix/client/v3';

function expectOk(res: { status: number; body: unknown }): { status: number; body: any } {
  if (res.status !== 200) throw new Error(`${res.status} ${JSON.stringify(res.body)}`);
  return res as { status: number; body: any };
}

async function open(t: { teardown(fn: () => Promise<void>): void }, ignoring?: Record<string, string[]>): Promise<RoomStack> {
  const s = await openRoomStack(undefined, undefined, () => (ignoring ? { ignoredUsersOf: async (userId: string) => new Set(ignoring[userId] ?? []) } : {}));
  t.teardown(() => s.close());
  return s;
}

async function publicRoom(s: RoomStack, ...joiners: string[]): Promise<string> {
  const roomId = expectOk(await call(s, 'POST', `${V3}/createRoom`, ALICE, { preset: 'public_chat' })).body.room_id as string;
  for (const user of joiners) expectOk(await call(s, 'POST', `${V3}/join/${encodeURIComponent(roomId)}`, user, {}));
  return roomId;
}

let txn = 0;
async function say(s: RoomStack, roomId: string, user: string, body: string): Promise<void> {
  expectOk(await call(s, 'PUT', `${V3}/rooms/${encodeURIComponent(roomId)}/send/m.room.message/t${txn++}`, user, { msgtype: 'm.text', body }));
}

async function setState(s: RoomStack, roomId: string, user: string, type: string, content: object, key = ''): Promise<void> {
  expectOk(await call(s, 'PUT', `${V3}/rooms/${encodeURIComponent(roomId)}/state/${type}/${encodeURIComponent(key)}`, user, content));
}

async function sync(s: RoomStack, user: string, opts: { since?: string; filter?: object } = {}): Promise<any> {
  const q = new URLSearchParams({ timeout: '0' });
  if (opts.since) q.set('since', opts.since);
  if (opts.filter) q.set('filter', JSON.stringify(opts.filter));
  return expectOk(await call(s, 'GET', `${V3}/sync?${q}`, user)).body;
}

const bodies = (section: any): unknown[] => section.timeline.events.map((e: any) => e.content.body ?? e.content.topic ?? `${e.type}:${e.content.membership ?? ''}`);

// --- 1. `limited` under a timeline filter (client-server "Syncing": "True if the number of events
// returned was limited by the limit on the filter"; Synapse `_load_filtered_recents`).

test('limited: a filter that keeps no more than the limit of the window cuts nothing', async (t) => {
  const s = await open(t);
  const roomId = await publicRoom(s, BOB);
  const token = (await sync(s, BOB)).next_batch as string;
  await setState(s, roomId, ALICE, 'm.room.topic', { topic: 'first' });
  for (let i = 0; i < 12; i++) await say(s, roomId, ALICE, `m${i}`);
  await setState(s, roomId, ALICE, 'm.room.topic', { topic: 'second' });
  const body = await sync(s, BOB, { since: token, filter: { room: { timeline: { limit: 3, types: ['m.room.topic'] } } } });
  const room = body.rooms.join[roomId];
  t.deepEqual(bodies(room), ['first', 'second']);
  t.false(room.timeline.limited, 'the messages the filter removed are not a gap');
});

test('limited: more matching events than the limit give the newest `limit` of them, even behind many others', async (t) => {
  const s = await open(t);
  const roomId = await publicRoom(s, BOB);
  const token = (await sync(s, BOB)).next_batch as string;
  for (const topic of ['one', 'two', 'three']) await setState(s, roomId, ALICE, 'm.room.topic', { topic });
  for (let i = 0; i < 50; i++) await say(s, roomId, ALICE, `m${i}`);
  const body = await sync(s, BOB, { since: token, filter: { room: { timeline: { limit: 2, types: ['m.room.topic'] } } } });
  const room = body.rooms.join[roomId];
  t.deepEqual(bodies(room), ['two', 'three']);
  t.true(room.timeline.limited);
});

test('limited: without a filter, a window larger than the limit is cut to its newest events', async (t) => {
  const s = await open(t);
  const roomId = await publicRoom(s, BOB);
  const token = (await sync(s, BOB)).next_batch as string;
  for (let i = 0; i < 5; i++) await say(s, roomId, ALICE, `m${i}`);
  const cut = (await sync(s, BOB, { since: token, filter: { room: { timeline: { limit: 2 } } } })).rooms.join[roomId];
  t.deepEqual(bodies(cut), ['m3', 'm4']);
  t.true(cut.timeline.limited);
  const whole = (await sync(s, BOB, { since: token, filter: { room: { timeline: { limit: 5 } } } })).rooms.join[roomId];
  t.deepEqual(bodies(whole), ['m0', 'm1', 'm2', 'm3', 'm4']);
  t.false(whole.timeline.limited);
});

// --- 2. Rejoining a room with `joined` history (client-server "Room History Visibility").

async function leaveAndRejoin(s: RoomStack, roomId: string, whileAway: () => Promise<void>): Promise<any> {
  await say(s, roomId, ALICE, 'while Bob was here');
  const token = (await sync(s, BOB)).next_batch as string;
  expectOk(await call(s, 'POST', `${V3}/rooms/${encodeURIComponent(roomId)}/leave`, BOB, {}));
  await whileAway();
  expectOk(await call(s, 'POST', `${V3}/join/${encodeURIComponent(roomId)}`, BOB, {}));
  return (await sync(s, BOB, { since: token })).rooms.join[roomId];
}

test('a rejoin with `joined` history: members who joined meanwhile are in state, what was said meanwhile is not shown', async (t) => {
  const s = await open(t);
  const roomId = await publicRoom(s, BOB);
  await setState(s, roomId, ALICE, 'm.room.history_visibility', { history_visibility: 'joined' });
  const room = await leaveAndRejoin(s, roomId, async () => {
    expectOk(await call(s, 'POST', `${V3}/join/${encodeURIComponent(roomId)}`, CAROL, {}));
    await say(s, roomId, CAROL, 'said while Bob was away');
  });
  const members = room.state.events.filter((e: any) => e.type === 'm.room.member').map((e: any) => [e.state_key, e.content.membership]);
  t.deepEqual(members.find(([user]: string[]) => user === CAROL), [CAROL, 'join'], JSON.stringify(members));
  const seen = bodies(room);
  t.false(seen.includes('said while Bob was away'), JSON.stringify(seen));
  t.true(seen.includes('while Bob was here'), 'what Bob saw as a member stays readable');
  t.like(room.timeline.events.at(-1), { type: 'm.room.member', state_key: BOB, content: { membership: 'join' } });
  t.false(room.timeline.events.some((e: any) => e.state_key === CAROL), 'Carol\'s join is hidden from the timeline, so it comes in state');
});

for (const visibility of ['shared', 'world_readable']) {
  test(`a change of history visibility to ${visibility} while away does not expose what was said before it`, async (t) => {
    const s = await open(t);
    const roomId = await publicRoom(s, BOB);
    await setState(s, roomId, ALICE, 'm.room.history_visibility', { history_visibility: 'joined' });
    const room = await leaveAndRejoin(s, roomId, async () => {
      await say(s, roomId, ALICE, 'said under joined');
      await setState(s, roomId, ALICE, 'm.room.history_visibility', { history_visibility: visibility });
      await say(s, roomId, ALICE, `said under ${visibility}`);
    });
    const seen = bodies(room);
    t.false(seen.includes('said under joined'), JSON.stringify(seen));
    t.true(seen.includes(`said under ${visibility}`), JSON.stringify(seen));
    const older = expectOk(await call(s, 'GET', `${V3}/rooms/${encodeURIComponent(roomId)}/messages?dir=b&limit=50`, BOB)).body.chunk.map((e: any) => e.content.body);
    t.false(older.includes('said under joined'), JSON.stringify(older));
  });
}

// --- 4. `m.heroes` only for rooms without a name or canonical alias (client-server "Syncing",
// RoomSummary; Synapse `compute_summary`).

test('m.heroes comes only while the room has neither a name nor a canonical alias', async (t) => {
  const s = await open(t);
  const roomId = await publicRoom(s, BOB);
  const summaryOf = async () => (await sync(s, ALICE)).rooms.join[roomId].summary;
  t.deepEqual(await summaryOf(), { 'm.heroes': [BOB], 'm.joined_member_count': 2, 'm.invited_member_count': 0 });

  await setState(s, roomId, ALICE, 'm.room.name', { name: 'Kitchen' });
  t.deepEqual(await summaryOf(), { 'm.joined_member_count': 2, 'm.invited_member_count': 0 });

  await setState(s, roomId, ALICE, 'm.room.name', { name: '' });
  t.deepEqual((await summaryOf())['m.heroes'], [BOB], 'an empty name is no name');

  expectOk(await call(s, 'PUT', `${V3}/directory/room/${encodeURIComponent('#kitchen:test.local')}`, ALICE, { room_id: roomId }));
  await setState(s, roomId, ALICE, 'm.room.canonical_alias', { alias: '#kitchen:test.local' });
  t.is((await summaryOf())['m.heroes'], undefined);
});

test('m.heroes lists joined and invited members in the order they came, never the viewer', async (t) => {
  const s = await open(t);
  const zoe = '@zoe:test.local';
  const dave = '@dave:test.local';
  const roomId = await publicRoom(s, zoe, BOB, CAROL);
  expectOk(await call(s, 'POST', `${V3}/rooms/${encodeURIComponent(roomId)}/invite`, ALICE, { user_id: dave }));
  t.deepEqual((await sync(s, BOB)).rooms.join[roomId].summary['m.heroes'], [ALICE, zoe, CAROL, dave]);
});

// --- 4. `event_format: federation` (client-server "Filtering": "the raw event as received over federation").

test('event_format federation: events come as the PDU, with its event id and unsigned', async (t) => {
  const s = await open(t);
  const roomId = await publicRoom(s, BOB);
  await say(s, roomId, ALICE, 'raw');
  const room = (await sync(s, BOB, { filter: { event_format: 'federation', room: { timeline: { limit: 1 } } } })).rooms.join[roomId];
  const message = room.timeline.events.find((e: any) => e.content.body === 'raw');
  t.truthy(message);
  t.is(message.room_id, roomId, 'the PDU keeps its room_id');
  t.is(message.sender, ALICE);
  t.true(Array.isArray(message.auth_events) && message.auth_events.length > 0);
  t.true(Array.isArray(message.prev_events) && message.prev_events.length === 1);
  t.is(typeof message.depth, 'number');
  t.is(typeof message.hashes.sha256, 'string');
  t.truthy(message.signatures['test.local']);
  t.true(message.event_id.startsWith('$'));
  t.is(typeof message.unsigned.age, 'number');
  t.true(room.state.events.length > 0);
  t.true(room.state.events.every((e: any) => e.signatures && e.hashes && e.event_id), 'state events too');
  // Room version 12 derives the room id from the create event's id: its PDU has no room_id.
  t.true(room.state.events.every((e: any) => (e.type === 'm.room.create' ? e.room_id === undefined : e.room_id === roomId)));

  const client = (await sync(s, BOB)).rooms.join[roomId].timeline.events.find((e: any) => e.content.body === 'raw');
  t.is(client.auth_events, undefined);
  t.is(client.room_id, undefined, 'the client format in /sync leaves room_id out');
});

test('event_format other than client or federation is refused', async (t) => {
  const s = await open(t);
  const res = await call(s, 'GET', `${V3}/sync?filter=${encodeURIComponent(JSON.stringify({ event_format: 'pdu' }))}`, BOB);
  t.is(res.status, 400);
  t.is(res.body.errcode, 'M_BAD_JSON');
});

// --- 4. Ignored users (client-server "Ignoring Users").

test('a room whose only new events come from ignored users is left out of an incremental sync', async (t) => {
  const s = await open(t, { [BOB]: [CAROL] });
  const roomId = await publicRoom(s, BOB, CAROL);
  const token = (await sync(s, BOB)).next_batch as string;
  await say(s, roomId, CAROL, 'ignored');
  await say(s, roomId, CAROL, 'ignored too');
  const quiet = await sync(s, BOB, { since: token });
  t.is(quiet.rooms.join[roomId], undefined, JSON.stringify(quiet.rooms.join[roomId]));

  await say(s, roomId, ALICE, 'heard');
  const heard = await sync(s, BOB, { since: token });
  t.deepEqual(bodies(heard.rooms.join[roomId]), ['heard']);
  t.false(heard.rooms.join[roomId].timeline.limited);
});
