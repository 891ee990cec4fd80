/**
 * Presence, typing, read receipts, per-thread unread counts and TURN credentials with matrix-js-sdk
 * 37.5.0 clients against a running Hearth (issue 13, "What the README promises, the tests prove").
 * Spec: client-server "Presence", "Typing Notifications", "Receipts" (threaded), "Receiving
 * notifications" (`unread_thread_notifications`), "Voice over IP" (`/voip/turnServer`), with the
 * TURN REST API credentials coturn's `use-auth-secret` checks.
 */
import './helpers/sdk-quiet.js'; // first: before the SDK binds its loggers
import test from 'ava';
import { createHmac } from 'node:crypto';
import * as sdk from 'matrix-js-sdk';
import { shareHearth } from './helpers/shared-hearth.js';
import { registerUser, request, type RegisteredUser } from './helpers/http.js';
import { startSdkClient, waitFor } from './helpers/sdk.js';

const TURN_SECRET = 'the-coturn-static-auth-secret';
const TURN_URIS = ['turn:turn.example.org:3478?transport=udp', 'turn:turn.example.org:3478?transport=tcp'];
const TURN_LIFETIME_SECONDS = 3600;

const shared = shareHearth(test, {
  hearthYaml: ['turn:', `  uris: ${JSON.stringify(TURN_URIS)}`, `  shared_secret: "${TURN_SECRET}"`, `  user_lifetime_seconds: ${TURN_LIFETIME_SECONDS}`, ''].join('\n'),
});

/** Registers `name` and starts an SDK client for it (thread support on, as Element runs). */
async function sdkUser(name: string): Promise<{ account: RegisteredUser; client: sdk.MatrixClient }> {
  const account = await registerUser(shared.server.baseUrl, name, `pw-${name}-ephemeral`);
  const client = await startSdkClient(shared.server.baseUrl, account, { threadSupport: true });
  shared.clients.push(client);
  return { account, client };
}

/** Alice and Bob, both joined to a new room; Bob's client has the room. */
async function twoInARoom(suffix: string) {
  const alice = await sdkUser(`alice-${suffix}`);
  const bob = await sdkUser(`bob-${suffix}`);
  const { room_id: roomId } = await alice.client.createRoom({ name: `Room ${suffix}`, preset: sdk.Preset.PublicChat });
  await bob.client.joinRoom(roomId);
  await waitFor(() => alice.client.getRoom(roomId)?.getMember(bob.account.userId)?.membership === sdk.KnownMembership.Join, `Bob's join at Alice (${suffix})`);
  // joinRoom resolves on the server's answer; the room reaches Bob's client with his next sync.
  await waitFor(() => bob.client.getRoom(roomId)?.getMyMembership() === sdk.KnownMembership.Join, `the room in Bob's client (${suffix})`);
  return { alice, bob, roomId };
}

test('presence set by one client reaches another through /sync as User events; strangers may not look', async (t) => {
  const { alice, bob } = await twoInARoom('presence');
  const aliceId = alice.account.userId;
  const seen: Array<[string | undefined, string | undefined]> = [];
  bob.client.on(sdk.UserEvent.Presence, (event, user) => {
    if (user?.userId === aliceId) seen.push([event?.getContent().presence, event?.getContent().status_msg]);
  });

  await alice.client.setPresence({ presence: 'unavailable', status_msg: 'in the garden' });
  await waitFor(() => bob.client.getUser(aliceId)?.presence === 'unavailable', "Alice's unavailable presence at Bob");
  const user = bob.client.getUser(aliceId)!;
  t.is(user.presenceStatusMsg, 'in the garden');
  t.not(user.currentlyActive, true, 'currently_active goes with online only, as Synapse formats it');
  t.deepEqual(seen.at(-1), ['unavailable', 'in the garden'], 'a User.presence event carried it');

  await alice.client.setPresence({ presence: 'online', status_msg: 'back inside' });
  await waitFor(() => bob.client.getUser(aliceId)?.presence === 'online', "Alice's online presence at Bob");
  t.is(bob.client.getUser(aliceId)!.presenceStatusMsg, 'back inside');
  t.deepEqual(seen.at(-1), ['online', 'back inside']);
  const status = await bob.client.getPresence(aliceId);
  t.is(status.presence, 'online');
  t.is(status.status_msg, 'back inside');
  t.true(status.currently_active, 'she set it herself just now');
  t.is(typeof status.last_active_ago, 'number');

  // Someone who shares no room with Alice is not told (Synapse: "You are not allowed to see their presence").
  const { client: stranger } = await sdkUser('stranger-presence');
  const refused = await t.throwsAsync(stranger.getPresence(aliceId), { instanceOf: sdk.MatrixError });
  t.is(refused?.httpStatus, 403);
  t.is(refused?.errcode, 'M_FORBIDDEN');
  t.is(stranger.getUser(aliceId), null, "no presence of Alice's came down the stranger's /sync");
  // Nor may one set another's presence.
  const other = await request(shared.server.baseUrl, 'PUT', `/_matrix/client/v3/presence/${encodeURIComponent(aliceId)}/status`, {
    token: bob.account.accessToken,
    json: { presence: 'offline' },
  });
  t.is(other.status, 403);
  t.is(other.body.errcode, 'M_FORBIDDEN');
  t.is(bob.client.getUser(aliceId)!.presence, 'online');
});

test('typing: Bob\'s client sees Alice start and stop typing through RoomMember.typing', async (t) => {
  const { alice, bob, roomId } = await twoInARoom('typing');
  const aliceId = alice.account.userId;
  const changes: boolean[] = [];
  bob.client.on(sdk.RoomMemberEvent.Typing, (_event, member) => {
    if (member.roomId === roomId && member.userId === aliceId) changes.push(member.typing);
  });

  await alice.client.sendTyping(roomId, true, 30_000);
  await waitFor(() => bob.client.getRoom(roomId)?.getMember(aliceId)?.typing === true, 'Alice typing at Bob');
  t.deepEqual(bob.client.getRoom(roomId)!.getMembers().filter((m) => m.typing).map((m) => m.userId), [aliceId], 'only Alice is typing');

  await alice.client.sendTyping(roomId, false, 0);
  await waitFor(() => bob.client.getRoom(roomId)?.getMember(aliceId)?.typing === false, 'Alice stopped typing at Bob');
  t.deepEqual(changes, [true, false], 'one RoomMember.typing event each way');

  // Typing is one's own: Bob cannot type for Alice.
  const forged = await request(shared.server.baseUrl, 'PUT', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/typing/${encodeURIComponent(aliceId)}`, {
    token: bob.account.accessToken,
    json: { typing: true, timeout: 30_000 },
  });
  t.is(forged.status, 403);
  t.is(forged.body.errcode, 'M_FORBIDDEN');
});

test('per-thread unread counts reach the SDK; threaded read receipts clear one thread and leave the rest', async (t) => {
  const { alice, bob, roomId } = await twoInARoom('threads');
  const bobId = bob.account.userId;
  t.true(bob.client.supportsThreads());
  const { event_id: root } = await alice.client.sendTextMessage(roomId, 'Who fed the cat?');
  const replies: string[] = [];
  for (const body of ['Not me', 'Nor me']) replies.push((await alice.client.sendMessage(roomId, root, { msgtype: sdk.MsgType.Text, body })).event_id);
  // A reply that mentions Bob: a highlight in the thread (.m.rule.is_user_mention).
  replies.push((await alice.client.sendMessage(roomId, root, { msgtype: sdk.MsgType.Text, body: 'Bob?', 'm.mentions': { user_ids: [bobId] } } as never)).event_id);
  const { event_id: mainId } = await alice.client.sendTextMessage(roomId, 'Dinner at seven');

  const room = () => bob.client.getRoom(roomId)!;
  const counts = () => ({
    main: room().getRoomUnreadNotificationCount(sdk.NotificationCountType.Total),
    thread: room().getThreadUnreadNotificationCount(root, sdk.NotificationCountType.Total),
    threadHighlight: room().getThreadUnreadNotificationCount(root, sdk.NotificationCountType.Highlight),
  });
  await waitFor(() => counts().thread === 3, "the thread's count at Bob");
  await waitFor(() => counts().main === 2, "the main timeline's count at Bob");
  t.deepEqual(counts(), { main: 2, thread: 3, threadHighlight: 1 }, 'root and main message in the main timeline, three replies in the thread, one of them a mention');
  t.is(room().getUnreadNotificationCount(sdk.NotificationCountType.Total), 5);

  // Bob reads the thread to its latest reply: the SDK sends a receipt with the thread's id.
  await waitFor(() => room().getThread(root)?.findEventById(replies[2]!) !== undefined, 'the third reply in Bob\'s thread');
  const lastReply = room().getThread(root)!.findEventById(replies[2]!)!;
  t.is(lastReply.threadRootId, root);
  await bob.client.sendReadReceipt(lastReply);
  await waitFor(() => counts().thread === 0 && counts().threadHighlight === 0, 'the thread read at Bob');
  t.is(counts().main, 2, 'the main timeline is still unread');

  // What the server itself says, over plain HTTP with the SDK's filter field.
  const filter = encodeURIComponent(JSON.stringify({ room: { timeline: { limit: 1, unread_thread_notifications: true } } }));
  const readSync = async () => {
    const res = await request(shared.server.baseUrl, 'GET', `/_matrix/client/v3/sync?timeout=0&filter=${filter}`, { token: bob.account.accessToken });
    t.is(res.status, 200, res.text);
    const joined = res.body.rooms.join[roomId];
    return { main: joined.unread_notifications, threads: joined.unread_thread_notifications ?? {} };
  };
  t.deepEqual(await readSync(), { main: { notification_count: 2, highlight_count: 0 }, threads: {} });

  // A new reply counts again in its thread only; reading the main timeline clears only the main count.
  const { event_id: later } = await alice.client.sendMessage(roomId, root, { msgtype: sdk.MsgType.Text, body: 'Found the receipt: the neighbour did' });
  await waitFor(() => counts().thread === 1, 'the new reply counted at Bob');
  await bob.client.sendReadReceipt(room().findEventById(mainId)!);
  await waitFor(() => counts().main === 0, 'the main timeline read at Bob');
  t.deepEqual(counts(), { main: 0, thread: 1, threadHighlight: 0 });
  t.deepEqual(await readSync(), { main: { notification_count: 0, highlight_count: 0 }, threads: { [root]: { notification_count: 1, highlight_count: 0 } } });

  // Alice's client has Bob's main-timeline receipt; the threaded one reaches her with its thread id.
  await waitFor(() => alice.client.getRoom(roomId)?.getReadReceiptForUserId(bobId, false, sdk.ReceiptType.Read)?.eventId === mainId, "Bob's main receipt at Alice");
  const aliceSync = await request(shared.server.baseUrl, 'GET', `/_matrix/client/v3/sync?timeout=0&filter=${filter}`, { token: alice.account.accessToken });
  const receipts = (aliceSync.body.rooms.join[roomId].ephemeral.events as Array<{ type: string; content: Record<string, Record<string, Record<string, { thread_id?: string }>>> }>)
    .filter((e) => e.type === 'm.receipt')
    .flatMap((e) => Object.entries(e.content).map(([eventId, byType]) => [eventId, byType['m.read']?.[bobId]?.thread_id]));
  t.deepEqual(receipts.filter(([eventId]) => eventId === replies[2] || eventId === mainId).sort(), [[replies[2], root], [mainId, 'main']].sort());
  t.false(receipts.some(([eventId]) => eventId === later), 'nothing says Bob read the latest reply');
});

test('getTurnServers: credentials from turn in hearth.yaml, in the TURN REST API form coturn checks', async (t) => {
  const { account, client } = await sdkUser('alice-turn');
  // The SDK fetches TURN credentials only where it can place calls (WebRTC: a browser); Node has
  // no RTCPeerConnection, so the flag the SDK sets there is set here, and its check run once.
  (client as unknown as { canSupportVoip: boolean }).canSupportVoip = true;
  const before = Date.now();
  t.true(await client.checkTurnServers());
  const after = Date.now();

  const servers = client.getTurnServers();
  t.is(servers.length, 1);
  const { urls, username, credential } = servers[0]!;
  t.deepEqual(urls, TURN_URIS);
  // username = "<expiry, unix seconds>:<user id>"; credential = base64(HMAC-SHA1(secret, username)).
  const match = /^(\d+):(@.+)$/.exec(username!);
  t.truthy(match, username);
  t.is(match![2], account.userId);
  const expiry = Number(match![1]);
  t.true(expiry >= Math.floor(before / 1000) + TURN_LIFETIME_SECONDS && expiry <= Math.ceil(after / 1000) + TURN_LIFETIME_SECONDS, `expiry ${expiry} is now + user_lifetime_seconds`);
  t.is(credential, createHmac('sha1', TURN_SECRET).update(username!).digest('base64'));
  // The SDK refreshes from `ttl`: it keeps the credentials for user_lifetime_seconds.
  const expiresAt = client.getTurnServersExpiry();
  t.true(expiresAt >= before + TURN_LIFETIME_SECONDS * 1000 && expiresAt <= Date.now() + TURN_LIFETIME_SECONDS * 1000);

  // Another user gets their own username and a credential that matches only it.
  const { client: bob } = await sdkUser('bob-turn');
  (bob as unknown as { canSupportVoip: boolean }).canSupportVoip = true;
  t.true(await bob.checkTurnServers());
  const bobs = bob.getTurnServers()[0]!;
  t.true(bobs.username!.endsWith(`:${bob.getUserId()}`));
  t.not(bobs.credential, credential);
  t.is(bobs.credential, createHmac('sha1', TURN_SECRET).update(bobs.username!).digest('base64'));
  const anonymous = await request(shared.server.baseUrl, 'GET', '/_matrix/client/v3/voip/turnServer');
  t.is(anonymous.status, 401, 'credentials only for signed-in users');
  t.is(anonymous.body.errcode, 'M_MISSING_TOKEN');
});
