/**
 * A room joined in an incremental /sync carries its members' presence (client-server "Presence":
 * users see the presence of those they share a room with; Synapse's
 * `_generate_sync_entry_for_presence` adds the members of newly joined rooms). Before, a new room's
 * members appeared only once their presence next changed.
 */
import test from 'ava';
import { PresenceService } from '../../src/presence/presence.js';
import { joinedRoomsVia } from '../../src/presence/joined-rooms.js';
import { registerPresenceRoutes } from '../../src/api/client/presence.js';
import { call, openRoomStack, type RoomStack } from '../helpers/room-stack.js';

const ALICE = '@alice:test.local';
const BOB = '@bob:test.local';
const CAROL = '@carol:test.local';
const DAVE = '@dave:test.local';
const V3 = '/_matrix/client/v3';

async function open(): Promise<RoomStack> {
  return openRoomStack(undefined, undefined, ({ engine, app, requireUser }) => {
    const presence = new PresenceService({ notifier: engine.notifier, joinedRoomsOf: joinedRoomsVia(engine), now: () => 1_000_000 });
    registerPresenceRoutes(app, { requireUser, presence });
    return {
      userSyncing: (userId, setPresence) => presence.userSyncing(userId, setPresence),
      presenceSince: (userId, since, to, newlyShared) => presence.eventsFor(userId, since, to, newlyShared),
    };
  });
}

async function sync(s: RoomStack, user: string, since?: string): Promise<{ next: string; presence: Map<string, any>; joined: string[] }> {
  const q = new URLSearchParams({ timeout: '0' });
  if (since) q.set('since', since);
  const body = (await call(s, 'GET', `${V3}/sync?${q}`, user)).body;
  return { next: body.next_batch, presence: new Map(body.presence.events.map((e: any) => [e.sender, e])), joined: Object.keys(body.rooms.join) };
}

test('joining a room brings its members\' presence in the next incremental sync, and only theirs', async (t) => {
  const s = await open();
  t.teardown(() => s.close());
  const roomId = (await call(s, 'POST', `${V3}/createRoom`, ALICE, { preset: 'public_chat' })).body.room_id as string;
  t.is((await call(s, 'POST', `${V3}/join/${encodeURIComponent(roomId)}`, CAROL, {})).status, 200);
  t.is((await call(s, 'PUT', `${V3}/presence/${encodeURIComponent(CAROL)}/status`, CAROL, { presence: 'online', status_msg: 'baking' })).status, 200);
  await sync(s, ALICE); // Alice online too
  await sync(s, DAVE); // Dave is online but shares no room with Bob

  const before = await sync(s, BOB);
  t.false(before.presence.has(CAROL));
  t.is((await call(s, 'POST', `${V3}/join/${encodeURIComponent(roomId)}`, BOB, {})).status, 200);
  const after = await sync(s, BOB, before.next);
  t.deepEqual(after.joined, [roomId]);
  t.like(after.presence.get(CAROL), { type: 'm.presence', content: { presence: 'online', status_msg: 'baking' } });
  t.like(after.presence.get(ALICE), { type: 'm.presence', content: { presence: 'online' } });
  t.false(after.presence.has(DAVE), 'Dave is in no room with Bob');
  t.false(after.presence.has(BOB), 'Bob\'s own presence did not change since his token');

  t.is((await sync(s, BOB, after.next)).presence.size, 0, 'once: the next sync has no news');
});
