/**
 * Exact unread counts (issue 13: a two-person room with 3,000 unread messages reported
 * `notification_count: 500`; Synapse reports 3,000). A running Hearth, driven over plain HTTP and by
 * matrix-js-sdk: 3,000 messages (30 mentions) and a thread of 20 replies (2 mentions) are counted
 * exactly in `/sync` (total and per thread), a receipt half-way leaves exactly the rest, a threaded
 * receipt reads only its thread, `/notifications` marks read exactly what the counts no longer
 * hold, and all of it survives a SIGKILL and a restart.
 */
import './helpers/sdk-quiet.js'; // first: before the SDK binds its loggers
import test from 'ava';
import * as sdk from 'matrix-js-sdk';
import { startHearth } from './helpers/server.js';
import { registerUser, request, type RegisteredUser } from './helpers/http.js';
import { silenceSdk, startSdkClient, waitFor } from './helpers/sdk.js';

silenceSdk();

const MESSAGES = 3000;
const REPLIES = 20;
/** Sends in flight at once (the test's own speed, not a measurement). */
const PARALLEL = 8;

const THREADED = encodeURIComponent(JSON.stringify({ room: { timeline: { limit: 1, unread_thread_notifications: true } } }));

async function send(baseUrl: string, sender: RegisteredUser, roomId: string, txn: string, content: Record<string, unknown>): Promise<string> {
  const r = await request(baseUrl, 'PUT', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/${txn}`, { token: sender.accessToken, json: content });
  if (r.status !== 200) throw new Error(`send ${txn}: ${r.status} ${r.text}`);
  return r.body.event_id as string;
}

test('3,000 unread messages and a thread are counted exactly in /sync, by the SDK, after receipts and after a SIGKILL', async (t) => {
  t.timeout(240_000);
  const hearth = await startHearth({ t });
  const alice = await registerUser(hearth.baseUrl, 'alice', 'pw-alice-unread');
  const bob = await registerUser(hearth.baseUrl, 'bob', 'pw-bob-unread');
  const created = await request(hearth.baseUrl, 'POST', '/_matrix/client/v3/createRoom', { token: alice.accessToken, json: { invite: [bob.userId], is_direct: true } });
  const roomId = created.body.room_id as string;
  t.is((await request(hearth.baseUrl, 'POST', `/_matrix/client/v3/join/${encodeURIComponent(roomId)}`, { token: bob.accessToken, json: {} })).status, 200);

  // Every 100th message mentions Bob (a highlight); sent PARALLEL at a time, in index order per lane.
  const ids: string[] = new Array(MESSAGES);
  const mention = (i: number) => (i % 100 === 0 ? { 'm.mentions': { user_ids: [bob.userId] } } : {});
  let next = 0;
  await Promise.all(
    Array.from({ length: PARALLEL }, async () => {
      for (let i = next++; i < MESSAGES; i = next++) ids[i] = await send(hearth.baseUrl, alice, roomId, `m${i}`, { msgtype: 'm.text', body: `message ${i}`, ...mention(i) });
    }),
  );
  // The thread's root is the newest main-timeline message; replies 5 and 15 mention Bob.
  const rootResponse = await send(hearth.baseUrl, alice, roomId, 'root', { msgtype: 'm.text', body: 'thread root' });
  const replies: string[] = [];
  for (let i = 0; i < REPLIES; i++) {
    const mentions = i % 10 === 5 ? { 'm.mentions': { user_ids: [bob.userId] } } : {};
    replies.push(await send(hearth.baseUrl, alice, roomId, `r${i}`, { msgtype: 'm.text', body: `reply ${i}`, 'm.relates_to': { rel_type: 'm.thread', event_id: rootResponse }, ...mentions }));
  }

  const plain = async () => {
    const r = await request(hearth.baseUrl, 'GET', '/_matrix/client/v3/sync', { token: bob.accessToken });
    t.is(r.status, 200);
    return r.body.rooms.join[roomId].unread_notifications as { notification_count: number; highlight_count: number };
  };
  const threaded = async () => {
    const r = await request(hearth.baseUrl, 'GET', `/_matrix/client/v3/sync?filter=${THREADED}`, { token: bob.accessToken });
    const section = r.body.rooms.join[roomId];
    return { main: section.unread_notifications, threads: section.unread_thread_notifications ?? {} };
  };

  // 1. Everything unread: 3,001 main messages (30 mentions), 20 replies (2 mentions).
  t.deepEqual(await plain(), { notification_count: MESSAGES + 1 + REPLIES, highlight_count: 32 });
  t.deepEqual(await threaded(), {
    main: { notification_count: MESSAGES + 1, highlight_count: 30 },
    threads: { [rootResponse]: { notification_count: REPLIES, highlight_count: 2 } },
  });
  t.deepEqual(await plain(), { notification_count: MESSAGES + 1 + REPLIES, highlight_count: 32 }, 'asking again changes nothing');
  const alicesOwn = await request(hearth.baseUrl, 'GET', '/_matrix/client/v3/sync', { token: alice.accessToken });
  t.deepEqual(alicesOwn.body.rooms.join[roomId].unread_notifications, { notification_count: 0, highlight_count: 0 }, "the sender's own messages never count");

  // 2. The SDK's badge (Element's): the same exact numbers.
  const client = await startSdkClient(hearth.baseUrl, bob);
  t.teardown(() => client.stopClient());
  const sdkRoom = client.getRoom(roomId)!;
  t.is(sdkRoom.getUnreadNotificationCount(sdk.NotificationCountType.Total), MESSAGES + 1 + REPLIES);
  t.is(sdkRoom.getUnreadNotificationCount(sdk.NotificationCountType.Highlight), 32);

  // 3. An unthreaded receipt half-way (message 1499) reads every thread up to it: 1,500 + the root remain (15 mentions); the thread is after it.
  await client.sendReadReceipt(new sdk.MatrixEvent({ event_id: ids[1499], room_id: roomId, type: 'm.room.message', sender: alice.userId }), sdk.ReceiptType.Read, true);
  await waitFor(() => sdkRoom.getUnreadNotificationCount(sdk.NotificationCountType.Total) === 1501 + REPLIES, "the SDK's badge after the receipt", 30_000);
  t.is(sdkRoom.getUnreadNotificationCount(sdk.NotificationCountType.Highlight), 17);
  t.deepEqual(await plain(), { notification_count: 1501 + REPLIES, highlight_count: 17 });

  // 4. A threaded receipt on reply 9 reads replies 0-9 of that thread only (one mention among them).
  const receipt = await request(hearth.baseUrl, 'POST', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/receipt/m.read/${encodeURIComponent(replies[9]!)}`, {
    token: bob.accessToken,
    json: { thread_id: rootResponse },
  });
  t.is(receipt.status, 200);
  const afterThreadReceipt = {
    main: { notification_count: 1501, highlight_count: 15 },
    threads: { [rootResponse]: { notification_count: 10, highlight_count: 1 } },
  };
  t.deepEqual(await threaded(), afterThreadReceipt);

  // 5. /notifications marks read exactly what the counts no longer hold: replies 0-9 read, 10-19 not.
  const listed = await request(hearth.baseUrl, 'GET', '/_matrix/client/v3/notifications?limit=25', { token: bob.accessToken });
  t.is(listed.status, 200);
  const readOf = new Map<string, boolean>((listed.body.notifications as { event: { event_id: string }; read: boolean }[]).map((n) => [n.event.event_id, n.read]));
  t.deepEqual(replies.map((id) => readOf.get(id)), [...Array(10).fill(true), ...Array(10).fill(false)]);
  t.false(readOf.get(rootResponse), 'the root is on the main timeline, after the receipt');
  t.true(readOf.get(ids[MESSAGES - 1]!) === false, 'message 2999 is unread');

  // 6. A SIGKILL right after, then a restart: the same counts, without a rebuild.
  client.stopClient();
  await hearth.kill('SIGKILL');
  await hearth.restart();
  t.deepEqual(await threaded(), afterThreadReceipt);
  t.deepEqual(await plain(), { notification_count: 1511, highlight_count: 16 });

  // 7. Counting goes on from there; Bob's own reply reads the thread, a receipt on the last message the rest.
  await send(hearth.baseUrl, alice, roomId, 'after', { msgtype: 'm.text', body: 'after the restart' });
  t.deepEqual(await plain(), { notification_count: 1512, highlight_count: 16 });
  await send(hearth.baseUrl, bob, roomId, 'bob-reply', { msgtype: 'm.text', body: 'on it', 'm.relates_to': { rel_type: 'm.thread', event_id: rootResponse } });
  t.deepEqual(await threaded(), { main: { notification_count: 1502, highlight_count: 15 }, threads: {} });
  const last = await send(hearth.baseUrl, alice, roomId, 'last', { msgtype: 'm.text', body: 'last' });
  await request(hearth.baseUrl, 'POST', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/receipt/m.read/${encodeURIComponent(last)}`, { token: bob.accessToken, json: {} });
  t.deepEqual(await plain(), { notification_count: 0, highlight_count: 0 });
});

test('a SIGKILL with sends in flight leaves the count equal to the messages stored', async (t) => {
  t.timeout(180_000);
  const hearth = await startHearth({ t });
  const alice = await registerUser(hearth.baseUrl, 'alice', 'pw-alice-kill');
  const bob = await registerUser(hearth.baseUrl, 'bob', 'pw-bob-kill');
  const created = await request(hearth.baseUrl, 'POST', '/_matrix/client/v3/createRoom', { token: alice.accessToken, json: { invite: [bob.userId] } });
  const roomId = created.body.room_id as string;
  await request(hearth.baseUrl, 'POST', `/_matrix/client/v3/join/${encodeURIComponent(roomId)}`, { token: bob.accessToken, json: {} });

  // Sends go on until the kill; the kill comes once 150 are acknowledged, with 8 in flight.
  let acknowledged = 0;
  let failed = 0;
  let stop = false;
  let killed: Promise<unknown> | undefined;
  let next = 0;
  await Promise.all(
    Array.from({ length: PARALLEL }, async () => {
      while (!stop) {
        const i = next++;
        try {
          await send(hearth.baseUrl, alice, roomId, `k${i}`, { msgtype: 'm.text', body: `before the kill ${i}` });
          acknowledged++;
          if (acknowledged === 150) killed = hearth.kill('SIGKILL');
        } catch {
          failed++;
          stop = true;
        }
      }
    }),
  );
  await killed;
  t.true(failed > 0, 'sends were cut off by the kill');
  await hearth.restart();

  // Every message of Alice's that the restarted server has, read back with /messages.
  let stored = 0;
  let from: string | undefined;
  for (;;) {
    const page = await request(hearth.baseUrl, 'GET', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/messages?dir=b&limit=100${from ? `&from=${encodeURIComponent(from)}` : ''}`, { token: bob.accessToken });
    const chunk = page.body.chunk as { type: string; sender: string }[];
    stored += chunk.filter((e) => e.type === 'm.room.message' && e.sender === alice.userId).length;
    if (!page.body.end || chunk.length === 0) break;
    from = page.body.end as string;
  }
  t.true(stored >= 150, `every acknowledged send is stored (${stored})`);
  const sync = await request(hearth.baseUrl, 'GET', '/_matrix/client/v3/sync', { token: bob.accessToken });
  t.deepEqual(sync.body.rooms.join[roomId].unread_notifications, { notification_count: stored, highlight_count: 0 });
});
