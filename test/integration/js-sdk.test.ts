/**
 * matrix-js-sdk 37.5.0 chatting through a real Hearth process (issue 2, "Proof with real clients"):
 * register and log in, create/invite/join, 50 messages in order through /sync, state, redaction, a
 * restart in the middle carried on from the old sync token, full back-pagination by a fresh client,
 * and a SIGKILL that must lose no acknowledged event.
 *
 * The tests run in order and share one server and one room: each builds on the previous one.
 */
import test, { type ExecutionContext } from 'ava';
import * as sdk from 'matrix-js-sdk';
import { startHearth, type HearthServer } from './helpers/server.js';
import { request, sendText } from './helpers/http.js';
import {
  liveMessages,
  loginWithSdk,
  registerWithSdk,
  silenceSdk,
  startSdkClient,
  unrefSdkRequestTimers,
  waitFor,
  type SdkCredentials,
} from './helpers/sdk.js';

declare module 'matrix-js-sdk/lib/@types/event.js' {
  interface StateEvents {
    'org.hearth.test.setting': { mode: string; level: number };
  }
}

const MESSAGE_COUNT = 50;
const PASSWORD = 'correct horse battery staple';
const SETTING_TYPE = 'org.hearth.test.setting';

silenceSdk();
unrefSdkRequestTimers();

let hearth: HearthServer;
const clients: sdk.MatrixClient[] = [];
let alice: sdk.MatrixClient;
let bob: sdk.MatrixClient;
let bobCreds: SdkCredentials;
let roomId: string;
/** Bodies of every m.room.message sent so far, in sending order. */
const sentBodies: string[] = [];
/** Event ids of those messages, same order. */
const sentIds: string[] = [];
let redactedId: string;

const enc = encodeURIComponent;

test.before(async () => {
  hearth = await startHearth();
});

test.after.always(async () => {
  for (const client of clients) client.stopClient();
  await hearth?.stop();
});

/** Collects the room's m.room.message events that reach `client` live from /sync, sent by others. */
function recordIncoming(client: sdk.MatrixClient): string[] {
  const bodies: string[] = [];
  client.on(sdk.RoomEvent.Timeline, (event, room, toStartOfTimeline, _removed, data) => {
    if (room?.roomId !== roomId || toStartOfTimeline || !data.liveEvent) return;
    if (event.getType() !== 'm.room.message' || event.getSender() === client.getUserId()) return;
    bodies.push(event.getContent().body as string);
  });
  return bodies;
}

test.serial('two users register and log in through the SDK; one creates a room, invites, the other joins', async (t) => {
  const aliceId = await registerWithSdk(hearth.baseUrl, 'alice', PASSWORD);
  const bobId = await registerWithSdk(hearth.baseUrl, 'bob', PASSWORD);
  t.is(aliceId, `@alice:${hearth.serverName}`);
  t.is(bobId, `@bob:${hearth.serverName}`);

  const aliceCreds = await loginWithSdk(hearth.baseUrl, 'alice', PASSWORD);
  bobCreds = await loginWithSdk(hearth.baseUrl, 'bob', PASSWORD);
  t.is(aliceCreds.userId, aliceId);
  t.is(bobCreds.userId, bobId);
  alice = await startSdkClient(hearth.baseUrl, aliceCreds);
  bob = await startSdkClient(hearth.baseUrl, bobCreds);
  clients.push(alice, bob);

  let bobInvitedTo: string | undefined;
  bob.on(sdk.RoomMemberEvent.Membership, (_event, member) => {
    if (member.userId === bobId && member.membership === 'invite') bobInvitedTo = member.roomId;
  });

  const created = await alice.createRoom({ name: 'Hearth integration', topic: 'before', preset: sdk.Preset.PrivateChat });
  roomId = created.room_id;
  await alice.invite(roomId, bobId);
  await waitFor(() => bobInvitedTo === roomId, "bob's invite through /sync");
  t.is(bob.getRoom(roomId)?.getMyMembership(), 'invite');

  await bob.joinRoom(roomId);
  await waitFor(() => alice.getRoom(roomId)?.getMember(bobId)?.membership === 'join', "bob's join seen by alice");
  await waitFor(() => bob.getRoom(roomId)?.getMyMembership() === 'join', "bob's own join through /sync");
  t.is(bob.getRoom(roomId)!.name, 'Hearth integration');
  t.deepEqual(
    alice
      .getRoom(roomId)!
      .getJoinedMembers()
      .map((m) => m.userId)
      .sort(),
    [aliceId, bobId].sort(),
  );
});

test.serial(`${MESSAGE_COUNT} messages, alternating senders, arrive in order through /sync on both clients`, async (t) => {
  const seenByAlice = recordIncoming(alice);
  const seenByBob = recordIncoming(bob);
  const expected: string[] = [];
  for (let i = 0; i < MESSAGE_COUNT; i++) {
    const sender = i % 2 === 0 ? alice : bob;
    const body = `message ${String(i).padStart(2, '0')} from ${sender === alice ? 'alice' : 'bob'}`;
    const res = await sender.sendTextMessage(roomId, body);
    t.regex(res.event_id, /^\$/);
    expected.push(body);
    sentBodies.push(body);
    sentIds.push(res.event_id);
  }

  const fromAlice = expected.filter((b) => b.endsWith('alice'));
  const fromBob = expected.filter((b) => b.endsWith('bob'));
  await waitFor(() => seenByBob.length >= fromAlice.length && seenByAlice.length >= fromBob.length, 'all messages through /sync');
  t.deepEqual(seenByBob, fromAlice, "alice's messages reach bob once each, in order");
  t.deepEqual(seenByAlice, fromBob, "bob's messages reach alice once each, in order");

  // The sender's own events come back through /sync with `unsigned.transaction_id`, which turns
  // each pending local echo into the server's event instead of adding a duplicate.
  for (const client of [alice, bob]) {
    const room = client.getRoom(roomId)!;
    await waitFor(
      () => liveMessages(room).length >= MESSAGE_COUNT && room.getPendingEvents().length === 0,
      `${client.getUserId()}'s remote echoes`,
    );
    t.deepEqual(
      liveMessages(room).map((e) => e.getContent().body),
      expected,
      `${client.getUserId()}'s timeline holds the ${MESSAGE_COUNT} messages in order`,
    );
    t.deepEqual(
      liveMessages(room).map((e) => e.getId()),
      sentIds,
    );
  }
});

test.serial('state: topic, name and a custom state event, read back over HTTP and from the synced room state', async (t) => {
  await alice.setRoomTopic(roomId, 'after');
  await alice.setRoomName(roomId, 'Hearth integration, renamed');
  await alice.sendStateEvent(roomId, SETTING_TYPE, { mode: 'eco', level: 3 }, 'boiler');

  t.deepEqual(await bob.getStateEvent(roomId, 'm.room.topic', ''), { topic: 'after', 'm.topic': [{ body: 'after', mimetype: 'text/plain' }] });
  t.deepEqual(await bob.getStateEvent(roomId, 'm.room.name', ''), { name: 'Hearth integration, renamed' });
  t.deepEqual(await bob.getStateEvent(roomId, SETTING_TYPE, 'boiler'), { mode: 'eco', level: 3 });

  const bobRoom = bob.getRoom(roomId)!;
  await waitFor(() => bobRoom.currentState.getStateEvents(SETTING_TYPE, 'boiler') !== null, 'the custom state event at bob');
  await waitFor(() => bobRoom.name === 'Hearth integration, renamed', 'the new name at bob');
  t.is(bobRoom.currentState.getStateEvents('m.room.topic', '')?.getContent().topic, 'after');
  t.deepEqual(bobRoom.currentState.getStateEvents(SETTING_TYPE, 'boiler')?.getContent(), { mode: 'eco', level: 3 });

  // The full state over HTTP holds exactly one event per (type, state_key), the latest.
  const state = await request(hearth.baseUrl, 'GET', `/_matrix/client/v3/rooms/${enc(roomId)}/state`, { token: bobCreds.accessToken });
  t.is(state.status, 200);
  const topics = (state.body as Array<{ type: string; content: { topic?: string } }>).filter((e) => e.type === 'm.room.topic');
  t.deepEqual(
    topics.map((e) => e.content.topic),
    ['after'],
  );

  // Bob joined with default power (0) in a private_chat room: state needs 50.
  const refused = await request(hearth.baseUrl, 'PUT', `/_matrix/client/v3/rooms/${enc(roomId)}/state/m.room.topic/`, {
    token: bobCreds.accessToken,
    json: { topic: 'bob was here' },
  });
  t.is(refused.status, 403);
  t.is(refused.body?.errcode, 'M_FORBIDDEN');
});

test.serial('a redacted message loses its content at the other client and on a fresh fetch', async (t) => {
  redactedId = sentIds[6]!; // "message 06 from alice"
  t.is(sentBodies[6], 'message 06 from alice');
  const bobRoom = bob.getRoom(roomId)!;
  let redactionSeenByBob: sdk.MatrixEvent | undefined;
  bob.on(sdk.RoomEvent.Timeline, (event, room) => {
    if (room?.roomId === roomId && event.getType() === 'm.room.redaction') redactionSeenByBob = event;
  });

  const { event_id: redactionId } = await alice.redactEvent(roomId, redactedId, undefined, { reason: 'test' });
  await waitFor(() => redactionSeenByBob?.getId() === redactionId, 'the redaction at bob');
  t.is(redactionSeenByBob!.event.redacts ?? redactionSeenByBob!.getContent().redacts, redactedId);
  const atBob = bobRoom.findEventById(redactedId)!;
  t.true(atBob.isRedacted());
  t.deepEqual(atBob.getContent(), {});

  // A fresh fetch: rooms v10-v12 redaction algorithm keeps no content key of m.room.message.
  const fetched = await request(hearth.baseUrl, 'GET', `/_matrix/client/v3/rooms/${enc(roomId)}/event/${enc(redactedId)}`, {
    token: bobCreds.accessToken,
  });
  t.is(fetched.status, 200);
  t.is(fetched.body.type, 'm.room.message');
  t.is(fetched.body.sender, alice.getUserId());
  t.deepEqual(fetched.body.content, {});
  t.is(fetched.body.unsigned?.redacted_because?.event_id, redactionId);

  // The neighbours keep theirs.
  const neighbour = await request(hearth.baseUrl, 'GET', `/_matrix/client/v3/rooms/${enc(roomId)}/event/${enc(sentIds[7]!)}`, {
    token: bobCreds.accessToken,
  });
  t.deepEqual(neighbour.body.content, { msgtype: 'm.text', body: sentBodies[7] });
});

test.serial('the server restarts in the middle; clients carry on from their old sync tokens', async (t) => {
  const seenByBob = recordIncoming(bob);
  const tokenBeforeRestart = bob.store.getSyncToken();
  t.truthy(tokenBeforeRestart);

  const restartStarted = Date.now();
  const exit = await hearth.kill('SIGTERM');
  t.log(`SIGTERM with two long-polling clients: exit code ${exit.code} after ${exit.elapsedMs} ms`);
  await hearth.restart();
  // What an app does when the network returns: retry now instead of after the SDK's back-off.
  alice.retryImmediately();
  bob.retryImmediately();

  const afterRestart = ['after restart 1', 'after restart 2', 'after restart 3', 'after restart 4', 'after restart 5'];
  for (const body of afterRestart) {
    const res = await alice.sendTextMessage(roomId, body);
    sentBodies.push(body);
    sentIds.push(res.event_id);
  }
  await waitFor(() => seenByBob.length >= afterRestart.length, 'post-restart messages at bob', 25_000);
  t.log(`bob had the post-restart messages ${Date.now() - restartStarted} ms after the restart began`);
  t.deepEqual(seenByBob, afterRestart);
  // The sender's client resumed too: its own post-restart events came back through its /sync.
  const aliceRoom = alice.getRoom(roomId)!;
  await waitFor(() => aliceRoom.getPendingEvents().length === 0, "alice's remote echoes after the restart");
  t.deepEqual(
    liveMessages(aliceRoom)
      .slice(-afterRestart.length)
      .map((e) => e.getContent().body),
    afterRestart,
  );

  // The pre-restart token itself is still valid and yields exactly what came after it.
  const filter = enc(JSON.stringify({ room: { timeline: { limit: 50 } } }));
  const sync = await request(hearth.baseUrl, 'GET', `/_matrix/client/v3/sync?since=${enc(tokenBeforeRestart!)}&timeout=0&filter=${filter}`, {
    token: bobCreds.accessToken,
  });
  t.is(sync.status, 200, sync.text);
  const timeline = sync.body.rooms?.join?.[roomId]?.timeline;
  t.false(timeline?.limited ?? false);
  t.deepEqual(
    (timeline?.events ?? []).filter((e: { type: string }) => e.type === 'm.room.message').map((e: { content: { body: string } }) => e.content.body),
    afterRestart,
  );
});

test.serial('a fresh client back-paginates the whole history to the create event', async (t) => {
  const creds = await loginWithSdk(hearth.baseUrl, 'bob', PASSWORD);
  const fresh = await startSdkClient(hearth.baseUrl, creds);
  clients.push(fresh);
  const room = fresh.getRoom(roomId)!;
  t.truthy(room);
  t.true(room.getLiveTimeline().getEvents().length <= 20, 'initial sync respects initialSyncLimit');

  for (let page = 0; page < 30 && room.oldState.paginationToken !== null; page++) {
    if (room.getLiveTimeline().getEvents()[0]?.getType() === 'm.room.create') break;
    await fresh.scrollback(room, 15);
  }
  const events = room.getLiveTimeline().getEvents();
  t.is(events[0]?.getType(), 'm.room.create');
  t.is(new Set(events.map((e) => e.getId())).size, events.length, 'no event twice');
  t.deepEqual(
    liveMessages(room).map((e) => e.getId()),
    sentIds,
  );
  t.deepEqual(
    liveMessages(room).map((e) => (e.getId() === redactedId ? undefined : e.getContent().body)),
    sentBodies.map((body, i) => (sentIds[i] === redactedId ? undefined : body)),
  );
  t.deepEqual(room.findEventById(redactedId)!.getContent(), {});

  // The same history through /messages without a `from` (spec v1.3+: from the end), newest first.
  const chunks: sdk.IEvent[] = [];
  let from: string | null = null;
  for (let page = 0; page < 30; page++) {
    const res = await fresh.createMessagesRequest(roomId, from, 20, sdk.Direction.Backward);
    chunks.push(...(res.chunk as sdk.IEvent[]));
    if (!res.end || res.chunk.length === 0) break;
    from = res.end;
  }
  t.is(chunks.at(-1)?.type, 'm.room.create');
  t.deepEqual(
    chunks
      .filter((e) => e.type === 'm.room.message')
      .map((e) => e.event_id)
      .reverse(),
    sentIds,
  );
});

/** Fetches each event after recovery and checks its content is what was sent. */
async function assertAllPresent(t: ExecutionContext, token: string, acknowledged: Map<string, string>): Promise<void> {
  for (const [eventId, body] of acknowledged) {
    const res = await request(hearth.baseUrl, 'GET', `/_matrix/client/v3/rooms/${enc(roomId)}/event/${enc(eventId)}`, { token });
    t.is(res.status, 200, `${eventId} (${body}) after SIGKILL: ${res.text}`);
    t.deepEqual(res.body?.content, { msgtype: 'm.text', body });
  }
}

test.serial('SIGKILL right after the last acknowledged send loses nothing', async (t) => {
  for (const client of clients) client.stopClient();
  const token = bobCreds.accessToken;
  const acknowledged = new Map<string, string>(); // event id -> body
  for (let i = 0; i < 20; i++) {
    const body = `durable ${i}`;
    acknowledged.set(await sendText(hearth.baseUrl, token, roomId, `durable-seq-${i}`, body), body);
  }
  await hearth.kill('SIGKILL');
  await hearth.restart();
  await assertAllPresent(t, token, acknowledged);
});

test.serial('SIGKILL with sends in flight loses no acknowledged one, and retried transactions are not duplicated', async (t) => {
  const token = bobCreds.accessToken;
  const inFlight = 24;
  // The kill races the sends, so one attempt may see every send answered before the process dies;
  // then nothing was cut off and the test would prove nothing about in-flight sends. Try again, a
  // bounded number of times, each with fresh transaction ids.
  const maxAttempts = 5;
  const txnOf = (attempt: number, i: number) => `durable-con-${attempt}-${i}`;
  const bodyOf = (attempt: number, i: number) => `durable concurrent ${attempt} ${i}`;
  const acknowledged = new Map<string, string>(); // event id -> body
  const ackedTxn = new Map<string, string>(); // txn id -> event id
  let attempts = 0;
  let cutOff = 0;
  while (cutOff === 0 && attempts < maxAttempts) {
    const attempt = attempts++;
    let acks = 0;
    let killed: Promise<unknown> | undefined;
    const results = await Promise.allSettled(
      Array.from({ length: inFlight }, async (_, i) => {
        // Every 200 counts, even one that lands after the kill was decided: the server answers only
        // once the event is on disk, so no answer can come from a process that died before that.
        const eventId = await sendText(hearth.baseUrl, token, roomId, txnOf(attempt, i), bodyOf(attempt, i));
        acknowledged.set(eventId, bodyOf(attempt, i));
        ackedTxn.set(txnOf(attempt, i), eventId);
        // Kill at the first answer: the other sends were issued together, so most are still open.
        if (++acks === 1) killed = hearth.kill('SIGKILL');
      }),
    );
    await (killed ?? hearth.kill('SIGKILL'));
    // Cut off = the request got no HTTP answer at all (fetch rejects with a TypeError when the
    // connection dies); an HTTP error status is an answer, and sendText reports it as a plain Error.
    cutOff = results.filter((r) => r.status === 'rejected' && r.reason instanceof TypeError).length;
    await hearth.restart();
  }
  t.log(`attempt ${attempts}: ${cutOff} of ${inFlight} sends cut off by the kill, ${acknowledged.size} acknowledged in all`);
  t.true(cutOff > 0, `no send was cut off by the SIGKILL in ${attempts} attempts: every one was answered first`);
  t.true(acknowledged.size > 0, 'at least the send that triggered the kill was acknowledged');
  await assertAllPresent(t, token, acknowledged);

  // A client whose send failed retries with the same transaction id (client-server-api
  // "Transaction identifiers"): an acknowledged one returns its event id again, none is stored twice.
  for (let attempt = 0; attempt < attempts; attempt++) {
    for (let i = 0; i < inFlight; i++) {
      const eventId = await sendText(hearth.baseUrl, token, roomId, txnOf(attempt, i), bodyOf(attempt, i));
      const acknowledgedId = ackedTxn.get(txnOf(attempt, i));
      if (acknowledgedId !== undefined) t.is(eventId, acknowledgedId, `retry of acknowledged transaction ${txnOf(attempt, i)}`);
    }
  }
  const messages = await request(
    hearth.baseUrl,
    'GET',
    `/_matrix/client/v3/rooms/${enc(roomId)}/messages?dir=b&limit=${attempts * inFlight * 3}`,
    { token },
  );
  t.is(messages.status, 200);
  const concurrentBodies = (messages.body.chunk as Array<{ content: { body?: string } }>)
    .map((e) => e.content.body)
    .filter((body): body is string => body?.startsWith('durable concurrent ') ?? false)
    .sort();
  const expected = Array.from({ length: attempts }, (_, attempt) => Array.from({ length: inFlight }, (_, i) => bodyOf(attempt, i)));
  t.deepEqual(concurrentBodies, expected.flat().sort(), 'each transaction stored exactly once');
});
