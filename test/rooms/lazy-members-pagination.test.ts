/**
 * client-server "Lazy-loading room members" on /messages and /context: with `lazy_load_members`
 * the `state` holds the members of the returned events' senders only; /messages as of the page's
 * first event (Synapse handlers/pagination.py), no `state` for an empty page; /context as of its
 * last event, the filter applying to the state too (Synapse handlers/room.py).
 */
import test from 'ava';
import { call, openRoomStack } from '../helpers/room-stack.js';
import { ALICE, BOB, CAROL, expectOk, q, roomWithSilentCarol, say, setName } from '../helpers/silent-member-room.js';

test('/messages with lazy_load_members: the members of the page\'s senders as of its first event', async (t) => {
  const s = await openRoomStack();
  t.teardown(() => s.close());
  const roomId = await roomWithSilentCarol(s);
  await say(s, roomId, CAROL, 'hello');
  await setName(s, roomId, CAROL, 'Caroline');
  const filter = { lazy_load_members: true, types: ['m.room.message'] };
  const page = await call(s, 'GET', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/messages?dir=b&limit=2&filter=${q(filter)}`, BOB);
  expectOk(page);
  t.deepEqual(page.body.chunk.map((e: any) => e.content.body), ['hello', 'a2']);
  const members = page.body.state.map((e: any) => [e.state_key, e.content.displayname ?? null]).sort();
  t.deepEqual(members, [[ALICE, null], [CAROL, 'Carol']], 'Carol as she was when she spoke, Bob (silent) left out');

  const empty = await call(s, 'GET', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/messages?dir=f&from=${page.body.start}&filter=${q(filter)}`, BOB);
  expectOk(empty);
  t.deepEqual(empty.body.chunk, []);
  t.false('state' in empty.body, 'no events, no state (as Synapse)');
});

test('/context with lazy_load_members: only the members its events need', async (t) => {
  const s = await openRoomStack();
  t.teardown(() => s.close());
  const roomId = await roomWithSilentCarol(s);
  const eventId = await say(s, roomId, ALICE, 'look');
  const lazy = await call(s, 'GET', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/context/${encodeURIComponent(eventId)}?limit=2&filter=${q({ lazy_load_members: true })}`, BOB);
  expectOk(lazy);
  const members = lazy.body.state.filter((e: any) => e.type === 'm.room.member').map((e: any) => e.state_key);
  t.deepEqual(members, [ALICE]);
  t.true(lazy.body.state.some((e: any) => e.type === 'm.room.create'), 'other state stays');
  const noCreate = await call(s, 'GET', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/context/${encodeURIComponent(eventId)}?limit=2&filter=${q({ lazy_load_members: true, not_types: ['m.room.create'] })}`, BOB);
  t.false(noCreate.body.state.some((e: any) => e.type === 'm.room.create'), 'the filter applies to the state too, as Synapse');
  const full = await call(s, 'GET', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/context/${encodeURIComponent(eventId)}?limit=2`, BOB);
  t.deepEqual(full.body.state.filter((e: any) => e.type === 'm.room.member').map((e: any) => e.state_key).sort(), [ALICE, BOB, CAROL]);
});
