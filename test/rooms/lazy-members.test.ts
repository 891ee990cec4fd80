/**
 * client-server "Lazy-loading room members": with `lazy_load_members` a response carries the
 * membership events of the senders of its events. On incremental syncs that means the members of
 * the timeline's senders this device has not been sent yet (Synapse keeps a per-device memory of
 * them; `include_redundant_members` sends them always). /messages and /context: lazy-members-pagination.test.ts.
 */
import test from 'ava';
import { call, openRoomStack, type RoomStack } from '../helpers/room-stack.js';
import { ALICE, BOB, CAROL, expectOk, q, roomWithSilentCarol, say, setName } from '../helpers/silent-member-room.js';

const LAZY = { room: { timeline: { limit: 2 }, state: { lazy_load_members: true } } };
const LAZY_REDUNDANT = { room: { timeline: { limit: 2 }, state: { lazy_load_members: true, include_redundant_members: true } } };

/** A request as `user` on `device` (the stack's `call` always uses DEV1). */
async function callAs(s: RoomStack, url: string, user: string, device: string): Promise<any> {
  const res = await s.app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${user}|${device}` } });
  if (res.statusCode !== 200) throw new Error(`${res.statusCode} ${res.body}`);
  return JSON.parse(res.body);
}

/** The state_keys of the member events in a room section's `state`. */
const membersIn = (section: any): string[] => section.state.events.filter((e: any) => e.type === 'm.room.member').map((e: any) => e.state_key).sort();

test('an incremental sync carries the member event of a sender the device was not sent yet, once', async (t) => {
  const s = await openRoomStack();
  t.teardown(() => s.close());
  const roomId = await roomWithSilentCarol(s);
  const initial = await callAs(s, `/_matrix/client/v3/sync?filter=${q(LAZY)}`, BOB, 'DEV1');
  t.deepEqual(membersIn(initial.rooms.join[roomId]), [ALICE, BOB], 'the senders of the timeline and the user');

  await say(s, roomId, CAROL, 'hello');
  const first = await callAs(s, `/_matrix/client/v3/sync?filter=${q(LAZY)}&since=${initial.next_batch}`, BOB, 'DEV1');
  const section = first.rooms.join[roomId];
  t.deepEqual(section.timeline.events.map((e: any) => e.content.body), ['hello']);
  t.false(section.timeline.limited);
  t.deepEqual(membersIn(section), [CAROL]);
  t.is(section.state.events[0].content.displayname, 'Carol');

  await say(s, roomId, CAROL, 'again');
  await say(s, roomId, ALICE, 'hi carol');
  const second = await callAs(s, `/_matrix/client/v3/sync?filter=${q(LAZY)}&since=${first.next_batch}`, BOB, 'DEV1');
  t.deepEqual(membersIn(second.rooms.join[roomId]), [], 'Carol and Alice were already sent to this device');
});

test('the memory of members sent is per device, and include_redundant_members sends them always', async (t) => {
  const s = await openRoomStack();
  t.teardown(() => s.close());
  const roomId = await roomWithSilentCarol(s);
  const one = await callAs(s, `/_matrix/client/v3/sync?filter=${q(LAZY)}`, BOB, 'DEV1');
  const two = await callAs(s, `/_matrix/client/v3/sync?filter=${q(LAZY)}`, BOB, 'DEV2');
  await say(s, roomId, CAROL, 'hello');
  const oneNext = await callAs(s, `/_matrix/client/v3/sync?filter=${q(LAZY)}&since=${one.next_batch}`, BOB, 'DEV1');
  t.deepEqual(membersIn(oneNext.rooms.join[roomId]), [CAROL]);
  const twoNext = await callAs(s, `/_matrix/client/v3/sync?filter=${q(LAZY)}&since=${two.next_batch}`, BOB, 'DEV2');
  t.deepEqual(membersIn(twoNext.rooms.join[roomId]), [CAROL], 'DEV1 was sent Carol, DEV2 was not');

  await say(s, roomId, CAROL, 'again');
  const redundant = await callAs(s, `/_matrix/client/v3/sync?filter=${q(LAZY_REDUNDANT)}&since=${oneNext.next_batch}`, BOB, 'DEV1');
  t.deepEqual(membersIn(redundant.rooms.join[roomId]), [CAROL]);
});

test('a sender whose membership is in the timeline before their message needs no state entry', async (t) => {
  const s = await openRoomStack();
  t.teardown(() => s.close());
  const roomId = (await call(s, 'POST', '/_matrix/client/v3/createRoom', ALICE, { preset: 'public_chat' })).body.room_id as string;
  expectOk(await call(s, 'POST', `/_matrix/client/v3/join/${encodeURIComponent(roomId)}`, BOB, {}));
  const initial = await callAs(s, `/_matrix/client/v3/sync?filter=${q(LAZY)}`, BOB, 'DEV1');
  expectOk(await call(s, 'POST', `/_matrix/client/v3/join/${encodeURIComponent(roomId)}`, CAROL, {}));
  await say(s, roomId, CAROL, 'hello');
  const next = await callAs(s, `/_matrix/client/v3/sync?filter=${q(LAZY)}&since=${initial.next_batch}`, BOB, 'DEV1');
  const section = next.rooms.join[roomId];
  t.deepEqual(section.timeline.events.map((e: any) => e.type), ['m.room.member', 'm.room.message']);
  t.deepEqual(membersIn(section), []);
});

test('a limited incremental sync carries the senders\' members even when unchanged since the last sync', async (t) => {
  const s = await openRoomStack();
  t.teardown(() => s.close());
  const roomId = await roomWithSilentCarol(s);
  // Without lazy loading first: this device was sent every member, but not by the lazy-loading path.
  const initial = await callAs(s, `/_matrix/client/v3/sync?filter=${q(LAZY)}`, BOB, 'DEV1');
  for (let i = 0; i < 4; i++) await say(s, roomId, ALICE, `b${i}`);
  await say(s, roomId, CAROL, 'late');
  const next = await callAs(s, `/_matrix/client/v3/sync?filter=${q(LAZY)}&since=${initial.next_batch}`, BOB, 'DEV1');
  const section = next.rooms.join[roomId];
  t.true(section.timeline.limited);
  t.deepEqual(section.timeline.events.map((e: any) => e.content.body), ['b3', 'late']);
  t.deepEqual(membersIn(section), [CAROL], 'Alice was sent by the initial sync; Carol was not');
});

test('in a room without a name, the heroes\' member events come with lazy loading, once per device', async (t) => {
  // Synapse `compute_summary`: a client names an unnamed room after its heroes, so it needs their
  // display names even when they said nothing in the timeline.
  const s = await openRoomStack();
  t.teardown(() => s.close());
  const roomId = (await call(s, 'POST', '/_matrix/client/v3/createRoom', ALICE, { preset: 'public_chat' })).body.room_id as string;
  expectOk(await call(s, 'POST', `/_matrix/client/v3/join/${encodeURIComponent(roomId)}`, BOB, {}));
  expectOk(await call(s, 'POST', `/_matrix/client/v3/join/${encodeURIComponent(roomId)}`, CAROL, {}));
  await setName(s, roomId, CAROL, 'Carol');
  for (let i = 0; i < 3; i++) await say(s, roomId, ALICE, `a${i}`);

  const initial = await callAs(s, `/_matrix/client/v3/sync?filter=${q(LAZY)}`, BOB, 'DEV1');
  const section = initial.rooms.join[roomId];
  t.deepEqual(section.summary['m.heroes'], [ALICE, CAROL]);
  t.deepEqual(membersIn(section), [ALICE, BOB, CAROL], 'the sender, the user and the silent hero');
  t.is(section.state.events.find((e: any) => e.state_key === CAROL).content.displayname, 'Carol');

  await say(s, roomId, ALICE, 'more');
  const next = await callAs(s, `/_matrix/client/v3/sync?filter=${q(LAZY)}&since=${initial.next_batch}`, BOB, 'DEV1');
  t.deepEqual(next.rooms.join[roomId].summary['m.heroes'], [ALICE, CAROL]);
  t.deepEqual(membersIn(next.rooms.join[roomId]), [], 'the heroes were already sent to this device');

  await call(s, 'PUT', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/state/m.room.name`, ALICE, { name: 'Kitchen' });
  const other = await callAs(s, `/_matrix/client/v3/sync?filter=${q(LAZY)}`, BOB, 'DEV2');
  t.is(other.rooms.join[roomId].summary['m.heroes'], undefined);
  t.deepEqual(membersIn(other.rooms.join[roomId]), [ALICE, BOB], 'a named room has no heroes to send');
});
