import test from 'ava';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateSigningKey } from '../../src/core/signing.js';
import type { SigningKey } from '../../src/core/types.js';
import { PushRulesService } from '../../src/accounts/push-rules.js';
import { ReceiptService } from '../../src/accounts/receipts.js';
import { AccountDataService } from '../../src/accounts/account-data.js';
import { registerReceiptRoutes } from '../../src/api/client/receipts.js';
import { registerReadMarkerRoutes } from '../../src/api/client/read-markers.js';
import { registerAccountDataRoutes } from '../../src/api/client/account-data.js';
import { ignoredUsersLookup } from '../../src/accounts/ignored-users.js';
import { NotificationCounts } from '../../src/push/notification-counts.js';
import { readReceiptsOf, receiptsResettingCounts } from '../../src/push/read-receipts.js';
import { cpSync, readFileSync } from 'node:fs';
import { STORAGE_VERSION } from '../../src/storage/keyspaces.js';
import { SERVER, call, openRoomStack, type RoomStack, type RoomStackExtension } from '../helpers/room-stack.js';

const ALICE = '@alice:test.local';
const BOB = '@bob:test.local';
const CAROL = '@carol:test.local';

/** The room stack with real push rules, receipts and notification counts, wired as the gateway does. */
const withCounts: RoomStackExtension = ({ db, engine, app, requireUser }) => {
  const pushRules = new PushRulesService(db, engine.notifier);
  const receipts = new ReceiptService(db, engine.notifier);
  const accountData = new AccountDataService(db, engine.notifier, pushRules);
  const ignoredUsersOf = ignoredUsersLookup(accountData);
  const counts = new NotificationCounts({
    engine,
    db,
    serverName: SERVER,
    pushRulesFor: (userId) => pushRules.pushRulesFor(userId),
    onPushRulesChange: (listener) => pushRules.onChange(listener),
    readReceipts: async (userId, roomId) =>
      readReceiptsOf((await receipts.receiptsSince([roomId], 0, engine.notifier.position, userId)).get(roomId) ?? {}, userId),
    ignoredUsersOf,
  });
  void counts.start();
  const auth = { requireUser: async (req: Parameters<typeof requireUser>[0]) => ({ ...(await requireUser(req)), tokenHash: '', isAdmin: false }) };
  const deps = {
    auth,
    accountData,
    receipts: receiptsResettingCounts(receipts, counts),
    isJoined: (userId: string, roomId: string) => engine.isJoined(userId, roomId),
  };
  registerReceiptRoutes(app, deps);
  registerReadMarkerRoutes(app, deps);
  registerAccountDataRoutes(app, { auth, accountData });
  return {
    unreadCounts: (userId, roomId) => counts.unreadCounts(userId, roomId),
    threadedUnreadCounts: (userId, roomId) => counts.threadedUnreadCounts(userId, roomId),
    receiptsSince: (roomIds, from, to, viewerId) => receipts.receiptsSince(roomIds, from, to, viewerId),
    ignoredUsersOf,
  };
};


const room = (roomId: string) => `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}`;
let txn = 0;

async function say(s: RoomStack, roomId: string, user: string, body: string, extra: Record<string, unknown> = {}): Promise<string> {
  const r = await call(s, 'PUT', `${room(roomId)}/send/m.room.message/t${++txn}`, user, { msgtype: 'm.text', body, ...extra });
  if (r.status !== 200) throw new Error(JSON.stringify(r.body));
  return r.body.event_id as string;
}

/** Syncs and returns the room's `unread_notifications` and the next token. */
async function unread(s: RoomStack, user: string, roomId: string, since?: string) {
  const r = await call(s, 'GET', `/_matrix/client/v3/sync${since ? `?since=${since}` : ''}`, user);
  return { counts: r.body.rooms.join[roomId]?.unread_notifications, next: r.body.next_batch as string };
}

async function openRoom(s: RoomStack, members: string[]): Promise<string> {
  const created = await call(s, 'POST', '/_matrix/client/v3/createRoom', ALICE, { invite: members });
  const roomId = created.body.room_id as string;
  for (const m of members) await call(s, 'POST', `${room(roomId)}/join`, m, {});
  return roomId;
}

async function open(dir?: string, key?: SigningKey): Promise<RoomStack> {
  return openRoomStack(dir, key, withCounts);
}

test('messages count, mentions highlight, a receipt resets; every joined room in a sync carries its counts', async (t) => {
  const s = await open();
  t.teardown(() => s.close());
  const roomId = await openRoom(s, [BOB]);

  const initial = await unread(s, BOB, roomId);
  t.deepEqual(initial.counts, { notification_count: 0, highlight_count: 0 });

  await say(s, roomId, ALICE, 'hello');
  await say(s, roomId, ALICE, 'are you there?');
  const afterTwo = await unread(s, BOB, roomId, initial.next);
  t.deepEqual(afterTwo.counts, { notification_count: 2, highlight_count: 0 });

  const mention = await say(s, roomId, ALICE, 'Bob: dinner', { 'm.mentions': { user_ids: [BOB] } });
  const afterMention = await unread(s, BOB, roomId, afterTwo.next);
  t.deepEqual(afterMention.counts, { notification_count: 3, highlight_count: 1 });
  t.deepEqual((await unread(s, ALICE, roomId)).counts, { notification_count: 0, highlight_count: 0 }, 'own messages never count');

  t.is((await call(s, 'POST', `${room(roomId)}/receipt/m.read/${encodeURIComponent(mention)}`, BOB, {})).status, 200);
  const afterReceipt = await unread(s, BOB, roomId, afterMention.next);
  t.deepEqual(afterReceipt.counts, { notification_count: 0, highlight_count: 0 }, 'the receipt makes the room part of the sync, counts reset');
});

test('a receipt on an older event leaves the later ones counted; a private receipt or own message resets too', async (t) => {
  const s = await open();
  t.teardown(() => s.close());
  const roomId = await openRoom(s, [BOB, CAROL]);
  await unread(s, BOB, roomId);
  const first = await say(s, roomId, ALICE, 'one');
  await say(s, roomId, ALICE, 'two');
  await say(s, roomId, CAROL, 'three');
  t.deepEqual((await unread(s, BOB, roomId)).counts, { notification_count: 3, highlight_count: 0 });

  await call(s, 'POST', `${room(roomId)}/receipt/m.read/${encodeURIComponent(first)}`, BOB, {});
  t.deepEqual((await unread(s, BOB, roomId)).counts, { notification_count: 2, highlight_count: 0 });

  const last = await say(s, roomId, ALICE, 'four, with a notice after', {});
  await say(s, roomId, ALICE, 'automated', { msgtype: 'm.notice' });
  t.deepEqual((await unread(s, BOB, roomId)).counts, { notification_count: 3, highlight_count: 0 }, 'notices do not count');
  await call(s, 'POST', `${room(roomId)}/read_markers`, BOB, { 'm.read.private': last });
  t.deepEqual((await unread(s, BOB, roomId)).counts, { notification_count: 0, highlight_count: 0 });

  await say(s, roomId, ALICE, 'five');
  t.deepEqual((await unread(s, BOB, roomId)).counts, { notification_count: 1, highlight_count: 0 });
  await say(s, roomId, BOB, 'I am reading along');
  t.deepEqual((await unread(s, BOB, roomId)).counts, { notification_count: 0, highlight_count: 0 }, 'sending reads the room');
});

test('the counts are stored with the events: after a restart they are the same, and go on from there', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hearth-push-'));
  const key = generateSigningKey();
  const first = await open(dir, key);
  const roomId = await openRoom(first, [BOB]);
  await say(first, roomId, ALICE, 'before the receipt');
  const read = await say(first, roomId, ALICE, 'read this one');
  await call(first, 'POST', `${room(roomId)}/receipt/m.read/${encodeURIComponent(read)}`, BOB, {});
  await say(first, roomId, ALICE, 'unread 1');
  await say(first, roomId, ALICE, 'unread 2', { 'm.mentions': { user_ids: [BOB] } });
  await first.close();

  const second = await open(dir, key);
  t.teardown(() => second.close());
  t.deepEqual((await unread(second, BOB, roomId)).counts, { notification_count: 2, highlight_count: 1 });
  t.deepEqual((await unread(second, ALICE, roomId)).counts, { notification_count: 0, highlight_count: 0 });
  await say(second, roomId, ALICE, 'after the restart');
  t.deepEqual((await unread(second, BOB, roomId)).counts, { notification_count: 3, highlight_count: 1 });
});

test('threads count apart with unread_thread_notifications; threaded receipts read one thread; the same after a restart', async (t) => {
  const s = await open();
  const roomId = await openRoom(s, [BOB]);
  await say(s, roomId, ALICE, 'main one');
  const root = await say(s, roomId, ALICE, 'thread root');
  const inThread = { 'm.relates_to': { rel_type: 'm.thread', event_id: root } };
  await say(s, roomId, ALICE, 'reply one', inThread);
  const replyTwo = await say(s, roomId, ALICE, 'reply two', inThread);
  const threaded = encodeURIComponent(JSON.stringify({ room: { timeline: { unread_thread_notifications: true } } }));
  const split = async (stack: RoomStack) => {
    const r = await call(stack, 'GET', `/_matrix/client/v3/sync?filter=${threaded}`, BOB);
    const section = r.body.rooms.join[roomId];
    return { main: section.unread_notifications.notification_count, threads: Object.fromEntries(Object.entries(section.unread_thread_notifications).map(([k, v]: [string, any]) => [k, v.notification_count])) };
  };

  t.deepEqual(await split(s), { main: 2, threads: { [root]: 2 } });
  t.is((await unread(s, BOB, roomId)).counts.notification_count, 4, 'without the filter: every thread');

  await call(s, 'POST', `${room(roomId)}/receipt/m.read/${encodeURIComponent(replyTwo)}`, BOB, { thread_id: root });
  t.deepEqual(await split(s), { main: 2, threads: {} }, 'reading the thread leaves the main timeline unread');
  await call(s, 'POST', `${room(roomId)}/receipt/m.read/${encodeURIComponent(root)}`, BOB, { thread_id: 'main' });
  t.deepEqual(await split(s), { main: 0, threads: {} });

  await say(s, roomId, ALICE, 'reply three', inThread);
  await say(s, roomId, ALICE, 'main two');
  t.deepEqual(await split(s), { main: 1, threads: { [root]: 1 } });
  await say(s, roomId, BOB, 'bob answers in the thread', inThread);
  t.deepEqual(await split(s), { main: 1, threads: {} }, 'replying in a thread reads it');

  // The same state, as stored.
  await s.close();
  const restarted = await open(s.dir, s.key);
  t.teardown(() => restarted.close());
  t.deepEqual(await split(restarted), { main: 1, threads: {} });
  const last = await say(restarted, roomId, ALICE, 'main three');
  t.deepEqual(await split(restarted), { main: 2, threads: {} });
  await call(restarted, 'POST', `${room(roomId)}/receipt/m.read/${encodeURIComponent(last)}`, BOB, {});
  t.deepEqual(await split(restarted), { main: 0, threads: {} }, 'an unthreaded receipt reads everything');
});

test('a redaction leaves the count as it was (as Synapse); leaving drops the counts, a rejoin starts from zero; ignored senders never count', async (t) => {
  const s = await open();
  t.teardown(() => s.close());
  const roomId = await openRoom(s, [BOB, CAROL]);
  const first = await say(s, roomId, ALICE, 'one');
  await say(s, roomId, ALICE, 'two', { 'm.mentions': { user_ids: [BOB] } });
  t.deepEqual((await unread(s, BOB, roomId)).counts, { notification_count: 2, highlight_count: 1 });
  t.is((await call(s, 'PUT', `${room(roomId)}/redact/${encodeURIComponent(first)}/x1`, ALICE, {})).status, 200);
  t.deepEqual((await unread(s, BOB, roomId)).counts, { notification_count: 2, highlight_count: 1 }, 'the redacted message still counts; the redaction does not');

  t.is((await call(s, 'POST', `${room(roomId)}/leave`, BOB, {})).status, 200);
  await say(s, roomId, ALICE, 'while Bob is away');
  const rowsOf = async (user: string) => (await s.db.space('pushActions').keys().all()).filter((key) => key.includes(Buffer.from(`${user}\0`))).length;
  t.is(await rowsOf(BOB), 0, "Bob's rows went with his leave");
  t.is(await rowsOf(CAROL), 3, "Carol's stay");
  t.is((await call(s, 'POST', `${room(roomId)}/invite`, ALICE, { user_id: BOB })).status, 200);
  t.is((await call(s, 'POST', `${room(roomId)}/join`, BOB, {})).status, 200);
  t.deepEqual((await unread(s, BOB, roomId)).counts, { notification_count: 0, highlight_count: 0 }, 'nothing from before the leave');
  await say(s, roomId, ALICE, 'welcome back');
  t.deepEqual((await unread(s, BOB, roomId)).counts, { notification_count: 1, highlight_count: 0 });

  // Carol ignores Alice: Alice's messages stop counting for her, Bob's still do.
  const carolBefore = (await unread(s, CAROL, roomId)).counts;
  t.is((await call(s, 'PUT', `/_matrix/client/v3/user/${encodeURIComponent(CAROL)}/account_data/m.ignored_user_list`, CAROL, { ignored_users: { [ALICE]: {} } })).status, 200);
  await say(s, roomId, ALICE, 'Carol does not see this');
  await say(s, roomId, BOB, 'but this');
  t.deepEqual((await unread(s, CAROL, roomId)).counts, { notification_count: carolBefore.notification_count + 1, highlight_count: 0 });
});

test('a store from version 3 gets its counts rebuilt at start, the same as counted live', async (t) => {
  const s = await open();
  const roomId = await openRoom(s, [BOB, CAROL]);
  const read = await say(s, roomId, ALICE, 'read');
  const root = await say(s, roomId, ALICE, 'root');
  const inThread = { 'm.relates_to': { rel_type: 'm.thread', event_id: root } };
  await say(s, roomId, CAROL, 'reply', inThread);
  const replyTwo = await say(s, roomId, ALICE, 'reply two, for Bob', { ...inThread, 'm.mentions': { user_ids: [BOB] } });
  await say(s, roomId, ALICE, 'reply three', inThread);
  await say(s, roomId, CAROL, 'main, after', { 'm.mentions': { user_ids: [BOB] } });
  await say(s, roomId, BOB, 'bob in main');
  await say(s, roomId, ALICE, 'last');
  await call(s, 'POST', `${room(roomId)}/receipt/m.read/${encodeURIComponent(read)}`, BOB, {});
  await call(s, 'POST', `${room(roomId)}/receipt/m.read/${encodeURIComponent(replyTwo)}`, CAROL, { thread_id: root });
  const threaded = encodeURIComponent(JSON.stringify({ room: { timeline: { unread_thread_notifications: true } } }));
  const countsOf = async (stack: RoomStack) => {
    const out: Record<string, unknown> = {};
    for (const user of [ALICE, BOB, CAROL]) {
      const section = (await call(stack, 'GET', `/_matrix/client/v3/sync?filter=${threaded}`, user)).body.rooms.join[roomId];
      out[user] = { main: section.unread_notifications, threads: section.unread_thread_notifications ?? {} };
    }
    return out;
  };
  const live = await countsOf(s);
  t.deepEqual(live[BOB], { main: { notification_count: 1, highlight_count: 0 }, threads: { [root]: { notification_count: 3, highlight_count: 1 } } }, "Bob's own message read main; the thread is unread");
  t.deepEqual(live[CAROL], { main: { notification_count: 2, highlight_count: 0 }, threads: { [root]: { notification_count: 1, highlight_count: 0 } } });

  // Back to version 3: no counts stored.
  const ops = [];
  for (const space of ['pushActions', 'unreadCounts'] as const) for (const key of await s.db.space(space).keys().all()) ops.push(s.db.del(space, key));
  t.true(ops.length > 0);
  await s.db.write([...ops, s.db.putMeta('schema_version', 3)]);
  await s.close();

  const upgraded = await open(s.dir, s.key);
  t.teardown(() => upgraded.close());
  t.deepEqual(await countsOf(upgraded), live);
  t.is(await upgraded.db.getMeta<number>('schema_version'), STORAGE_VERSION);
  t.is(await upgraded.db.getMeta('unread_counts_rebuild'), undefined, 'the rebuild is done once');
});

test('the version-2 fixture (written by 866f676) opens with its unread message counted', async (t) => {
  const fixture = join(import.meta.dirname, '../storage/fixtures/v2-nul-attack');
  const info = JSON.parse(readFileSync(`${fixture}.json`, 'utf8')) as { roomId: string };
  const dir = mkdtempSync(join(tmpdir(), 'hearth-v2-counts-'));
  cpSync(fixture, dir, { recursive: true });
  const s = await open(dir);
  t.teardown(() => s.close());
  t.deepEqual((await unread(s, BOB, info.roomId)).counts, { notification_count: 1, highlight_count: 0 }, "Alice's message, after Bob joined");
  t.deepEqual((await unread(s, ALICE, info.roomId)).counts, { notification_count: 0, highlight_count: 0 });
});
