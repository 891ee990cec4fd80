import test from 'ava';
import { PresenceService } from '../../src/presence/presence.js';
import { joinedRoomsVia } from '../../src/presence/joined-rooms.js';
import { registerPresenceRoutes } from '../../src/api/client/presence.js';
import { parseSyncToken } from '../../src/rooms/tokens.js';
import { call, openRoomStack, type RoomStack } from '../helpers/room-stack.js';

const ALICE = '@alice:test.local';
const BOB = '@bob:test.local';
const CAROL = '@carol:test.local';

interface PresenceStack {
  s: RoomStack;
  presence: PresenceService;
  clock: { now: number };
}

/** The room stack with the real presence service on a fake clock (timers checked by hand). */
async function open(): Promise<PresenceStack> {
  const clock = { now: 1_000_000 };
  let presence!: PresenceService;
  const s = await openRoomStack(undefined, undefined, ({ engine, app, requireUser }) => {
    presence = new PresenceService({ notifier: engine.notifier, joinedRoomsOf: joinedRoomsVia(engine), now: () => clock.now });
    engine.onEvent((event) => presence.markActive(event.pdu.sender));
    registerPresenceRoutes(app, { requireUser, presence });
    return {
      userSyncing: (userId, setPresence) => presence.userSyncing(userId, setPresence),
      presenceSince: (userId, since, to) => presence.eventsFor(userId, since, to),
    };
  });
  return { s, presence, clock };
}


interface PresenceEvent {
  type: string;
  sender: string;
  content: { presence: string; last_active_ago?: number; currently_active?: boolean; status_msg?: string };
}

async function sync(s: RoomStack, user: string, since?: string, timeoutMs = 0) {
  const q = new URLSearchParams();
  if (since) q.set('since', since);
  q.set('timeout', String(timeoutMs));
  const r = await call(s, 'GET', `/_matrix/client/v3/sync?${q}`, user);
  const events = r.body.presence.events as PresenceEvent[];
  return { next: r.body.next_batch as string, presence: new Map(events.map((e) => [e.sender, e])) };
}

const status = (userId: string) => `/_matrix/client/v3/presence/${encodeURIComponent(userId)}/status`;

async function shareRoom(s: RoomStack, a: string, b: string): Promise<string> {
  const created = await call(s, 'POST', '/_matrix/client/v3/createRoom', a, { invite: [b] });
  await call(s, 'POST', `/_matrix/client/v3/rooms/${encodeURIComponent(created.body.room_id)}/join`, b, {});
  return created.body.room_id as string;
}

test('syncing brings users online; syncs carry the presence of users sharing a room, as it changes', async (t) => {
  const { s } = await open();
  t.teardown(() => s.close());
  await shareRoom(s, ALICE, BOB);

  const alice = await sync(s, ALICE);
  t.deepEqual(alice.presence.get(ALICE)?.content, { presence: 'online', last_active_ago: 0, currently_active: true }, 'her own presence');
  t.is(alice.presence.get(ALICE)?.type, 'm.presence');
  t.false(alice.presence.has(BOB), 'Bob has not synced: no presence known yet');

  await sync(s, BOB);
  await sync(s, CAROL);
  const aliceNext = await sync(s, ALICE, alice.next);
  t.is(aliceNext.presence.get(BOB)?.content.presence, 'online');
  t.false(aliceNext.presence.has(CAROL), 'Carol shares no room with Alice');
  t.false(aliceNext.presence.has(ALICE), 'unchanged since the token');

  // An explicit status with a message.
  t.is((await call(s, 'PUT', status(BOB), BOB, { presence: 'unavailable', status_msg: 'cooking' })).status, 200);
  const afterStatus = await sync(s, ALICE, aliceNext.next);
  t.like(afterStatus.presence.get(BOB)?.content, { presence: 'unavailable', status_msg: 'cooking' });
  t.is(afterStatus.presence.get(BOB)?.content.currently_active, undefined, 'currently_active only comes with online');
  t.is((await sync(s, ALICE, afterStatus.next)).presence.size, 0, 'nothing changed since');
});

test('GET and PUT /presence/{userId}/status', async (t) => {
  const { s, clock } = await open();
  t.teardown(() => s.close());
  await shareRoom(s, ALICE, BOB);

  t.deepEqual((await call(s, 'GET', status(BOB), ALICE)).body, { presence: 'offline' }, 'never seen: offline');
  t.is((await call(s, 'PUT', status(BOB), BOB, { presence: 'online', status_msg: 'home' })).status, 200);
  clock.now += 2_000;
  const seen = await call(s, 'GET', status(BOB), ALICE);
  t.deepEqual(seen.body, { presence: 'online', last_active_ago: 2_000, currently_active: true, status_msg: 'home' });
  t.is((await call(s, 'PUT', status(BOB), BOB, { presence: 'online' })).status, 200);
  t.is((await call(s, 'GET', status(BOB), BOB)).body.status_msg, undefined, 'a PUT without status_msg clears it');

  const other = await call(s, 'PUT', status(BOB), ALICE, { presence: 'offline' });
  t.is(other.status, 403);
  t.is(other.body.errcode, 'M_FORBIDDEN');
  t.is((await call(s, 'GET', status(CAROL), ALICE)).status, 403, 'no shared room');
  t.is((await call(s, 'PUT', status(BOB), BOB, { presence: 'away' })).status, 400);
  t.is((await call(s, 'PUT', status(BOB), BOB, {})).status, 400);
  t.is((await call(s, 'GET', status('not-a-user'), ALICE)).status, 400);
});

test('timers: no sync for 30 s -> offline (waking a long-poll); idle 5 min -> unavailable; activity -> online', async (t) => {
  const { s, presence, clock } = await open();
  t.teardown(() => s.close());
  const roomId = await shareRoom(s, ALICE, BOB);
  const alice = await sync(s, ALICE);
  await sync(s, BOB);
  const token = (await sync(s, ALICE, alice.next)).next;

  // Bob stops syncing; Alice long-polls and is woken by his going offline.
  clock.now += 29_000;
  presence.checkTimeouts();
  const polling = sync(s, ALICE, token, 10_000);
  clock.now += 2_000;
  await new Promise((resolve) => setTimeout(resolve, 50));
  presence.checkTimeouts();
  const woken = await polling;
  t.is(woken.presence.get(BOB)?.content.presence, 'offline');
  t.is(woken.presence.get(BOB)?.content.last_active_ago, 31_000);

  // Alice keeps a long-poll open (still syncing) but does nothing for 5 minutes: unavailable.
  const aliceSince = (await sync(s, ALICE, woken.next)).next;
  const idlePoll = sync(s, ALICE, aliceSince, 10_000);
  await new Promise((resolve) => setTimeout(resolve, 50));
  clock.now += 60_000;
  presence.checkTimeouts();
  const notActive = await idlePoll;
  t.deepEqual(notActive.presence.get(ALICE)?.content, { presence: 'online', last_active_ago: 60_000 + 31_000, currently_active: false });
  const idle = sync(s, ALICE, notActive.next, 10_000);
  await new Promise((resolve) => setTimeout(resolve, 50));
  clock.now += 5 * 60_000;
  presence.checkTimeouts();
  const idled = await idle;
  t.is(idled.presence.get(ALICE)?.content.presence, 'unavailable');
  t.is((await sync(s, ALICE, idled.next)).presence.get(ALICE), undefined, 'syncing alone does not end idleness');

  // Sending a message is activity.
  const sent = await call(s, 'PUT', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/t1`, ALICE, { msgtype: 'm.text', body: 'back' });
  t.is(sent.status, 200);
  t.deepEqual((await call(s, 'GET', status(ALICE), ALICE)).body, { presence: 'online', last_active_ago: 0, currently_active: true });
});

test('set_presence on sync: offline does not bring the user online, unavailable marks them idle', async (t) => {
  const { s } = await open();
  t.teardown(() => s.close());
  const base = { deviceId: 'DEV1', timeoutMs: 0, fullState: false, filter: {} };
  await s.sync.sync({ ...base, userId: CAROL, setPresence: 'offline' });
  t.is((await call(s, 'GET', status(CAROL), CAROL)).body.presence, 'offline');
  const body = await s.sync.sync({ ...base, userId: CAROL, setPresence: 'unavailable' });
  t.is((await call(s, 'GET', status(CAROL), CAROL)).body.presence, 'unavailable');
  t.deepEqual((body.presence as unknown as { events: PresenceEvent[] }).events.map((e) => [e.sender, e.content.presence]), [[CAROL, 'unavailable']]);
  await s.sync.sync({ ...base, userId: CAROL });
  t.is((await call(s, 'GET', status(CAROL), CAROL)).body.presence, 'unavailable', 'a plain sync does not end an explicit unavailable');
});

test('a token from before a restart (ephemeral serial ahead of the server) gets all visible presence', async (t) => {
  const { s } = await open();
  t.teardown(() => s.close());
  const first = await sync(s, ALICE);
  const token = parseSyncToken(first.next);
  const ahead = `s${token.position}_${token.ephemeral + 100}`;
  const again = await sync(s, ALICE, ahead);
  t.is(again.presence.get(ALICE)?.content.presence, 'online');
});
