/** POST /rooms/{roomId}/upgrade (client-server "Room Upgrades"), through the room routes. */
import test from 'ava';
import { call, openRoomStack, type RoomStack } from '../helpers/room-stack.js';

const ALICE = '@alice:test.local';
const BOB = '@bob:test.local';
const V3 = '/_matrix/client/v3';
const room = (id: string) => `${V3}/rooms/${encodeURIComponent(id)}`;

async function state(s: RoomStack, roomId: string, type: string, user = ALICE) {
  return (await call(s, 'GET', `${room(roomId)}/state/${type}/`, user)).body;
}

async function publicRoomWithBob(s: RoomStack, version: string) {
  const created = await call(s, 'POST', `${V3}/createRoom`, ALICE, {
    preset: 'public_chat',
    visibility: 'public',
    room_version: version,
    room_alias_name: `garden${version}`,
    name: 'Garden',
    topic: 'Soil moisture',
    creation_content: { 'm.federate': false },
    initial_state: [{ type: 'm.room.history_visibility', state_key: '', content: { history_visibility: 'joined' } }],
  });
  if (created.status !== 200) throw new Error(JSON.stringify(created.body));
  const roomId = created.body.room_id as string;
  if ((await call(s, 'POST', `${room(roomId)}/join`, BOB, {})).status !== 200) throw new Error('bob could not join');
  return roomId;
}

test('v10 -> v11: predecessor, copied state and power levels, alias and directory moved, tombstone, old room quietened', async (t) => {
  const s = await openRoomStack();
  t.teardown(() => s.close());
  const oldId = await publicRoomWithBob(s, '10');
  const upgraded = await call(s, 'POST', `${room(oldId)}/upgrade`, ALICE, { new_version: '11' });
  t.is(upgraded.status, 200, JSON.stringify(upgraded.body));
  const newId = upgraded.body.replacement_room as string;
  t.not(newId, oldId);

  const create = await state(s, newId, 'm.room.create');
  t.is(create.room_version, '11');
  t.is(create.predecessor.room_id, oldId);
  t.regex(create.predecessor.event_id, /^\$/);
  t.false(create['m.federate'], 'a room that did not federate still does not');
  t.is((await state(s, newId, 'm.room.name')).name, 'Garden');
  t.is((await state(s, newId, 'm.room.topic')).topic, 'Soil moisture');
  t.is((await state(s, newId, 'm.room.history_visibility')).history_visibility, 'joined');
  t.is((await state(s, newId, 'm.room.join_rules')).join_rule, 'public');
  t.is((await state(s, newId, 'm.room.power_levels')).users[ALICE], 100);

  const alias = await call(s, 'GET', `${V3}/directory/room/${encodeURIComponent('#garden10:test.local')}`, ALICE);
  t.is(alias.body.room_id, newId, 'the alias follows the room');
  const listed = (await call(s, 'GET', `${V3}/publicRooms`, ALICE)).body.chunk.map((r: { room_id: string }) => r.room_id);
  t.true(listed.includes(newId));
  t.false(listed.includes(oldId));

  const tombstone = await state(s, oldId, 'm.room.tombstone', BOB);
  t.is(tombstone.replacement_room, newId);
  const oldLevels = await state(s, oldId, 'm.room.power_levels');
  t.is(oldLevels.events_default, 50);
  t.is(oldLevels.invite, 50);
  const late = await call(s, 'PUT', `${room(oldId)}/send/m.room.message/late`, BOB, { msgtype: 'm.text', body: 'anyone?' });
  t.is(late.status, 403, 'ordinary members can no longer talk in the old room');
  t.is((await call(s, 'POST', `${room(newId)}/join`, BOB, {})).status, 200, 'bob follows the tombstone');
  t.is((await call(s, 'PUT', `${room(newId)}/send/m.room.message/hi`, BOB, { msgtype: 'm.text', body: 'here' })).status, 200);
});

test('v11 -> v12: the upgrader becomes a creator (infinite power, out of `users`) and may name additional creators', async (t) => {
  const s = await openRoomStack();
  t.teardown(() => s.close());
  const oldId = await publicRoomWithBob(s, '11');
  const upgraded = await call(s, 'POST', `${room(oldId)}/upgrade`, ALICE, { new_version: '12', additional_creators: [BOB] });
  t.is(upgraded.status, 200, JSON.stringify(upgraded.body));
  const newId = upgraded.body.replacement_room as string;
  t.regex(newId, /^![A-Za-z0-9_-]{43}$/, 'a v12 room id is its create event hash');
  const create = await state(s, newId, 'm.room.create');
  t.deepEqual(create.additional_creators, [BOB]);
  const levels = await state(s, newId, 'm.room.power_levels');
  t.false(ALICE in levels.users, 'creators are not listed in v12 power levels');
  t.false(BOB in levels.users);
  t.is((await call(s, 'PUT', `${room(newId)}/state/m.room.topic/`, ALICE, { topic: 'v12' })).status, 200);
});

test('v12 -> v11: the creator keeps power as 100 in `users`', async (t) => {
  const s = await openRoomStack();
  t.teardown(() => s.close());
  const oldId = await publicRoomWithBob(s, '12');
  const upgraded = await call(s, 'POST', `${room(oldId)}/upgrade`, ALICE, { new_version: '11' });
  t.is(upgraded.status, 200, JSON.stringify(upgraded.body));
  t.is((await state(s, upgraded.body.replacement_room, 'm.room.power_levels')).users[ALICE], 100);
});

test('refusals: no power to tombstone, unknown version, bad body, additional creators before v12', async (t) => {
  const s = await openRoomStack();
  t.teardown(() => s.close());
  const oldId = await publicRoomWithBob(s, '11');
  const cases: [string, unknown, number, string][] = [
    [BOB, { new_version: '11' }, 403, 'M_FORBIDDEN'],
    [ALICE, { new_version: '99' }, 400, 'M_UNSUPPORTED_ROOM_VERSION'],
    [ALICE, { new_version: 11 }, 400, 'M_BAD_JSON'],
    [ALICE, { new_version: '12', additional_creators: ['bob'] }, 400, 'M_BAD_JSON'],
    [ALICE, { new_version: '11', additional_creators: [BOB] }, 400, 'M_INVALID_PARAM'],
  ];
  for (const [user, body, status, errcode] of cases) {
    const res = await call(s, 'POST', `${room(oldId)}/upgrade`, user, body);
    t.is(res.status, status, JSON.stringify(body));
    t.is(res.body.errcode, errcode);
  }
  t.is((await call(s, 'GET', `${room(oldId)}/state/m.room.tombstone/`, ALICE)).status, 404, 'nothing was upgraded');
});

test('v1 -> v11: string power levels (rooms fragment v1-stringy-power-levels) arrive as the integers the old room read', async (t) => {
  const s = await openRoomStack();
  t.teardown(() => s.close());
  const oldId = await publicRoomWithBob(s, '1');
  t.is((await state(s, oldId, 'm.room.create')).creator, ALICE);
  const stringy = { users: { [ALICE]: '100', [BOB]: ' +050 ' }, kick: '40', events: { 'm.room.topic': '10' }, state_default: 50, ban: 'not a level' };
  const set = await call(s, 'PUT', `${room(oldId)}/state/m.room.power_levels/`, ALICE, stringy);
  t.is(set.status, 200, JSON.stringify(set.body));
  // The old room applies them: Bob (" +050 ") reaches the topic level ("10").
  t.is((await call(s, 'PUT', `${room(oldId)}/state/m.room.topic/`, BOB, { topic: 'by bob' })).status, 200);

  const upgraded = await call(s, 'POST', `${room(oldId)}/upgrade`, ALICE, { new_version: '11' });
  t.is(upgraded.status, 200, JSON.stringify(upgraded.body));
  const levels = await state(s, upgraded.body.replacement_room as string, 'm.room.power_levels');
  t.deepEqual(levels.users, { [ALICE]: 100, [BOB]: 50 });
  t.is(levels.kick, 40);
  t.deepEqual(levels.events, { 'm.room.topic': 10 });
  t.false('ban' in levels, 'a value the old room read as no level is dropped');
});
