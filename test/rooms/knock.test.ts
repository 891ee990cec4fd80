/**
 * Knocking (client-server "Knocking on rooms", POST /knock/{roomIdOrAlias}): the knock, what the
 * knocker's /sync shows (rooms.knock with stripped state), what members see, acceptance by invite,
 * rejection by kick, retraction by leave, and refusals.
 */
import test from 'ava';
import { call, openRoomStack } from '../helpers/room-stack.js';

const ALICE = '@alice:test.local';
const BOB = '@bob:test.local';
const V3 = '/_matrix/client/v3';

async function knockRoom(t: { teardown(fn: () => unknown): void }, joinRule = 'knock') {
  const s = await openRoomStack();
  t.teardown(() => s.close());
  const created = await call(s, 'POST', `${V3}/createRoom`, ALICE, {
    name: 'Workshop',
    room_alias_name: 'workshop',
    initial_state: [{ type: 'm.room.join_rules', state_key: '', content: { join_rule: joinRule } }],
  });
  const roomId = created.body.room_id as string;
  return { s, roomId, room: encodeURIComponent(roomId) };
}

test('a knock shows in the knocker\'s /sync with stripped state, members see it, and an invite accepts it', async (t) => {
  const { s, roomId, room } = await knockRoom(t);
  const knocked = await call(s, 'POST', `${V3}/knock/${encodeURIComponent('#workshop:test.local')}`, BOB, { reason: 'May I borrow the drill?' });
  t.is(knocked.status, 200);
  t.deepEqual(knocked.body, { room_id: roomId });

  const bobSync = await call(s, 'GET', `${V3}/sync`, BOB);
  const state = bobSync.body.rooms.knock[roomId].knock_state.events;
  t.deepEqual(state.find((e: any) => e.type === 'm.room.join_rules').content, { join_rule: 'knock' });
  t.is(state.find((e: any) => e.type === 'm.room.name').content.name, 'Workshop');
  const own = state.find((e: any) => e.type === 'm.room.member' && e.state_key === BOB);
  t.deepEqual(own.content, { membership: 'knock', reason: 'May I borrow the drill?' });
  t.is(bobSync.body.rooms.join[roomId], undefined);

  const aliceSync = await call(s, 'GET', `${V3}/sync`, ALICE);
  const knockEvent = aliceSync.body.rooms.join[roomId].timeline.events.find((e: any) => e.type === 'm.room.member' && e.state_key === BOB);
  t.is(knockEvent.content.membership, 'knock');

  const invited = await call(s, 'POST', `${V3}/rooms/${room}/invite`, ALICE, { user_id: BOB });
  t.is(invited.status, 200);
  const next = await call(s, 'GET', `${V3}/sync?since=${encodeURIComponent(bobSync.body.next_batch)}&timeout=0`, BOB);
  t.truthy(next.body.rooms.invite[roomId], 'the knock became an invite');
  t.is(next.body.rooms.knock?.[roomId], undefined);
  t.is((await call(s, 'POST', `${V3}/join/${room}`, BOB, {})).status, 200);
});

test('a knock can be retracted by leaving or rejected by a kick', async (t) => {
  const { s, roomId, room } = await knockRoom(t);
  await call(s, 'POST', `${V3}/knock/${room}`, BOB, {});
  t.is((await call(s, 'POST', `${V3}/rooms/${room}/leave`, BOB, {})).status, 200);
  t.is((await call(s, 'GET', `${V3}/rooms/${room}/state/m.room.member/${encodeURIComponent(BOB)}`, ALICE)).body.membership, 'leave');
  await call(s, 'POST', `${V3}/knock/${room}`, BOB, {});
  t.is((await call(s, 'POST', `${V3}/rooms/${room}/kick`, ALICE, { user_id: BOB, reason: 'not today' })).status, 200);
  const sync = await call(s, 'GET', `${V3}/sync`, BOB);
  t.is(sync.body.rooms.knock?.[roomId], undefined);
});

test('knocking is refused where the join rule does not allow it, for members, banned users and unknown rooms', async (t) => {
  const invite = await knockRoom(t, 'invite');
  const refused = await call(invite.s, 'POST', `${V3}/knock/${invite.room}`, BOB, {});
  t.is(refused.status, 403);
  t.is(refused.body.errcode, 'M_FORBIDDEN');
  const { s, room } = await knockRoom(t);
  const member = await call(s, 'POST', `${V3}/knock/${room}`, ALICE, {});
  t.is(member.status, 403);
  t.regex(member.body.error, /already in the room/);
  await call(s, 'POST', `${V3}/rooms/${room}/ban`, ALICE, { user_id: BOB });
  t.is((await call(s, 'POST', `${V3}/knock/${room}`, BOB, {})).status, 403);
  const unknown = await call(s, 'POST', `${V3}/knock/${encodeURIComponent('#nowhere:test.local')}`, BOB, {});
  t.is(unknown.status, 404);
  t.is(unknown.body.errcode, 'M_NOT_FOUND');
  t.is((await call(s, 'POST', `${V3}/knock/${room}`, BOB, '{not json')).body.errcode, 'M_NOT_JSON');
});
