/**
 * client-server "Syncing": an incremental /sync sends a room whole (the newest timeline page and
 * its full state) only when the user's membership became `join` in the window. A member's own
 * profile change (join -> join with a new displayname) and a leave while the client followed the
 * room are ordinary changes: the events since `since`, nothing resent. Before, both counted as a
 * new join and the client got the last page of history and every state event again.
 */
import test from 'ava';
import { call, openRoomStack, type RoomStack } from '../helpers/room-stack.js';

const ALICE = '@alice:test.local';
const BOB = '@bob:test.local';

async function busyRoom(s: RoomStack): Promise<string> {
  const created = await call(s, 'POST', '/_matrix/client/v3/createRoom', ALICE, { preset: 'public_chat' });
  const roomId = created.body.room_id as string;
  expectOk(await call(s, 'POST', `/_matrix/client/v3/join/${encodeURIComponent(roomId)}`, BOB, {}));
  for (let i = 0; i < 30; i++) expectOk(await call(s, 'PUT', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/m${i}`, ALICE, { msgtype: 'm.text', body: `m${i}` }));
  return roomId;
}

function expectOk(res: { status: number; body: unknown }): void {
  if (res.status !== 200) throw new Error(`${res.status} ${JSON.stringify(res.body)}`);
}

async function since(s: RoomStack, user: string): Promise<string> {
  return (await call(s, 'GET', '/_matrix/client/v3/sync', user)).body.next_batch as string;
}

const summary = (section: any) => ({
  timeline: section.timeline.events.map((e: any) => [e.type, e.content.membership ?? e.content.body]),
  limited: section.timeline.limited,
  state: section.state.events.map((e: any) => e.type),
});

test('a member\'s own displayname change is only that change, not a new join', async (t) => {
  const s = await openRoomStack();
  t.teardown(() => s.close());
  const roomId = await busyRoom(s);
  const token = await since(s, BOB);
  expectOk(await call(s, 'PUT', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/state/m.room.member/${encodeURIComponent(BOB)}`, BOB, { membership: 'join', displayname: 'Bobby' }));
  const sync = await call(s, 'GET', `/_matrix/client/v3/sync?since=${token}`, BOB);
  t.deepEqual(summary(sync.body.rooms.join[roomId]), { timeline: [['m.room.member', 'join']], limited: false, state: [] });
  t.is(sync.body.rooms.join[roomId].timeline.events[0].content.displayname, 'Bobby');
});

test('a leave while the client followed the room brings the events up to it, not the history', async (t) => {
  const s = await openRoomStack();
  t.teardown(() => s.close());
  const roomId = await busyRoom(s);
  const token = await since(s, BOB);
  expectOk(await call(s, 'PUT', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/last`, ALICE, { msgtype: 'm.text', body: 'before you go' }));
  expectOk(await call(s, 'POST', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/leave`, BOB, {}));
  expectOk(await call(s, 'PUT', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/after`, ALICE, { msgtype: 'm.text', body: 'after you left' }));
  const sync = await call(s, 'GET', `/_matrix/client/v3/sync?since=${token}`, BOB);
  t.deepEqual(summary(sync.body.rooms.leave[roomId]), { timeline: [['m.room.message', 'before you go'], ['m.room.member', 'leave']], limited: false, state: [] });
  t.is(sync.body.rooms.join[roomId], undefined);
});

test('a real join in the window, and a leave and rejoin in it, still bring the room whole', async (t) => {
  const s = await openRoomStack();
  t.teardown(() => s.close());
  const roomId = await busyRoom(s);
  const carol = '@carol:test.local';
  const carolToken = await since(s, carol);
  expectOk(await call(s, 'POST', `/_matrix/client/v3/join/${encodeURIComponent(roomId)}`, carol, {}));
  const joined = summary((await call(s, 'GET', `/_matrix/client/v3/sync?since=${carolToken}`, carol)).body.rooms.join[roomId]);
  t.true(joined.limited, 'the newest page of a busy room');
  t.true(joined.state.includes('m.room.create') && joined.state.includes('m.room.power_levels'), JSON.stringify(joined.state));

  const bobToken = await since(s, BOB);
  expectOk(await call(s, 'POST', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/leave`, BOB, {}));
  expectOk(await call(s, 'POST', `/_matrix/client/v3/join/${encodeURIComponent(roomId)}`, BOB, {}));
  const rejoined = summary((await call(s, 'GET', `/_matrix/client/v3/sync?since=${bobToken}`, BOB)).body.rooms.join[roomId]);
  t.true(rejoined.limited);
  t.true(rejoined.state.includes('m.room.create'), 'rejoined: the full state again, as Synapse sends it');
});
