/**
 * History visibility over the Client-Server API: what Bob, who joins late, reads of the messages
 * Alice sent before, under each setting, through /messages, /sync, /event and /context.
 */
import test from 'ava';
import { call, openRoomStack, type RoomStack } from '../helpers/room-stack.js';

const ALICE = '@alice:test.local';
const BOB = '@bob:test.local';
const V3 = '/_matrix/client/v3';


type Event = { type: string; event_id: string; content: { body?: string } };
const bodiesOf = (events: Event[]) => events.filter((e) => e.type === 'm.room.message').map((e) => e.content.body);

/** Alice: "before invite", invites Bob, "after invite", Bob joins, "after join"; Bob leaves, "after leave". */
async function scenario(t: { teardown(fn: () => unknown): void }, visibility: string) {
  const s = await openRoomStack();
  t.teardown(() => s.close());
  const { body } = await call(s, 'POST', `${V3}/createRoom`, ALICE, {
    preset: 'private_chat',
    initial_state: [{ type: 'm.room.history_visibility', state_key: '', content: { history_visibility: visibility } }],
  });
  const room = encodeURIComponent(body.room_id as string);
  const ids: Record<string, string> = {};
  const say = async (text: string) => {
    ids[text] = (await call(s, 'PUT', `${V3}/rooms/${room}/send/m.room.message/${encodeURIComponent(text)}`, ALICE, { msgtype: 'm.text', body: text })).body.event_id;
  };
  await say('before invite');
  await call(s, 'POST', `${V3}/rooms/${room}/invite`, ALICE, { user_id: BOB });
  await say('after invite');
  const joined = await call(s, 'POST', `${V3}/rooms/${room}/join`, BOB, {});
  if (joined.status !== 200) throw new Error(JSON.stringify(joined.body));
  await say('after join');
  return { s, room, ids };
}

async function bobReads(s: RoomStack, room: string) {
  const messages = await call(s, 'GET', `${V3}/rooms/${room}/messages?dir=b&limit=50`, BOB);
  const sync = await call(s, 'GET', `${V3}/sync`, BOB);
  const roomId = decodeURIComponent(room);
  return { messages: bodiesOf(messages.body.chunk).reverse(), sync: bodiesOf(sync.body.rooms.join[roomId].timeline.events) };
}

test('shared (the private_chat default): a late joiner reads everything from before', async (t) => {
  const { s, room } = await scenario(t, 'shared');
  const read = await bobReads(s, room);
  t.deepEqual(read.messages, ['before invite', 'after invite', 'after join']);
  t.deepEqual(read.sync, ['before invite', 'after invite', 'after join']);
});

test('invited: a late joiner reads from the invite on, and earlier events are not found by id or context', async (t) => {
  const { s, room, ids } = await scenario(t, 'invited');
  const read = await bobReads(s, room);
  t.deepEqual(read.messages, ['after invite', 'after join']);
  t.deepEqual(read.sync, ['after invite', 'after join']);
  const hidden = await call(s, 'GET', `${V3}/rooms/${room}/event/${encodeURIComponent(ids['before invite']!)}`, BOB);
  t.is(hidden.status, 404);
  t.is(hidden.body.errcode, 'M_NOT_FOUND');
  t.is((await call(s, 'GET', `${V3}/rooms/${room}/context/${encodeURIComponent(ids['before invite']!)}`, BOB)).status, 404);
  const context = await call(s, 'GET', `${V3}/rooms/${room}/context/${encodeURIComponent(ids['after join']!)}?limit=10`, BOB);
  t.is(context.status, 200);
  t.deepEqual(bodiesOf(context.body.events_before), ['after invite'], 'the hidden message is not in the context either');
  const visible = await call(s, 'GET', `${V3}/rooms/${room}/event/${encodeURIComponent(ids['after invite']!)}`, BOB);
  t.is(visible.body.content.body, 'after invite');
});

test('joined: a late joiner reads from the join on; their own join event is visible; Alice still reads all', async (t) => {
  const { s, room } = await scenario(t, 'joined');
  const read = await bobReads(s, room);
  t.deepEqual(read.messages, ['after join']);
  t.deepEqual(read.sync, ['after join']);
  const all = await call(s, 'GET', `${V3}/rooms/${room}/messages?dir=b&limit=50`, BOB);
  const ownJoin = (all.body.chunk as { type: string; state_key?: string; content: { membership?: string } }[]).find(
    (e) => e.type === 'm.room.member' && e.state_key === BOB && e.content.membership === 'join',
  );
  t.truthy(ownJoin, "Bob's own join is visible (judged on the state after it)");
  const alice = await call(s, 'GET', `${V3}/rooms/${room}/messages?dir=b&limit=50`, ALICE);
  t.deepEqual(bodiesOf(alice.body.chunk).reverse(), ['before invite', 'after invite', 'after join']);
});

test('after leaving, a user reads what they could read before, and nothing after', async (t) => {
  const { s, room } = await scenario(t, 'shared');
  t.is((await call(s, 'POST', `${V3}/rooms/${room}/leave`, BOB, {})).status, 200);
  await call(s, 'PUT', `${V3}/rooms/${room}/send/m.room.message/later`, ALICE, { msgtype: 'm.text', body: 'after leave' });
  const messages = await call(s, 'GET', `${V3}/rooms/${room}/messages?dir=b&limit=50`, BOB);
  t.deepEqual(bodiesOf(messages.body.chunk).reverse(), ['before invite', 'after invite', 'after join']);
});

test('world_readable: someone who never joined reads what was sent while the room was world-readable, and its state', async (t) => {
  const s = await openRoomStack();
  t.teardown(() => s.close());
  const CAROL = '@carol:test.local';
  const { body } = await call(s, 'POST', `${V3}/createRoom`, ALICE, { preset: 'public_chat', name: 'Weather station' });
  const room = encodeURIComponent(body.room_id as string);
  const say = (text: string) => call(s, 'PUT', `${V3}/rooms/${room}/send/m.room.message/${encodeURIComponent(text)}`, ALICE, { msgtype: 'm.text', body: text });
  t.is((await call(s, 'GET', `${V3}/rooms/${room}/messages?dir=b`, CAROL)).status, 403, 'shared: no preview');
  await say('before');
  await call(s, 'PUT', `${V3}/rooms/${room}/state/m.room.history_visibility/`, ALICE, { history_visibility: 'world_readable' });
  await say('public 1');
  await say('public 2');
  await call(s, 'PUT', `${V3}/rooms/${room}/state/m.room.history_visibility/`, ALICE, { history_visibility: 'joined' });
  await say('members only');
  await call(s, 'PUT', `${V3}/rooms/${room}/state/m.room.history_visibility/`, ALICE, { history_visibility: 'world_readable' });

  const messages = await call(s, 'GET', `${V3}/rooms/${room}/messages?dir=b&limit=50`, CAROL);
  t.is(messages.status, 200);
  const chunk = messages.body.chunk.reverse() as { type: string; content: { body?: string; history_visibility?: string } }[];
  t.deepEqual(bodiesOf(chunk as never), ['public 1', 'public 2']);
  t.deepEqual(
    chunk.filter((e) => e.type === 'm.room.history_visibility').map((e) => e.content.history_visibility),
    ['world_readable', 'joined', 'world_readable'],
    'each change of the setting is visible from one side or the other',
  );
  t.is((await call(s, 'GET', `${V3}/rooms/${room}/state/m.room.name/`, CAROL)).body.name, 'Weather station');
  t.is((await call(s, 'PUT', `${V3}/rooms/${room}/send/m.room.message/x`, CAROL, { msgtype: 'm.text', body: 'hi' })).status, 403, 'reading is not joining');
});
