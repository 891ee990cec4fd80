/**
 * Rooms of old versions through the Client-Server API of a running gateway: created, joined,
 * written and read back (`/messages`, `/state`, `/event`), redacted; `/capabilities` lists every
 * version; matrix-js-sdk creates, joins and syncs a room of each version 1-12; `default_room_version`
 * in hearth.yaml picks the version of rooms created without one.
 */
import './helpers/sdk-quiet.js';
import test from 'ava';
import * as sdk from 'matrix-js-sdk';
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { registerUser, request, type RegisteredUser } from './helpers/http.js';
import { shareHearth } from './helpers/shared-hearth.js';
import { liveMessages, startSdkClient, waitFor } from './helpers/sdk.js';

const shared = shareHearth(test);

const ALL_VERSIONS = ['1', '2', '3', '4', '5', '6', '7', '8', '9', '10', '11', '12'];

/** rooms/v1, v3, v4 "Event IDs". */
function eventIdPattern(version: string, serverName: string): RegExp {
  if (version === '1' || version === '2') return new RegExp(`^\\$[A-Za-z0-9]+:${serverName.replace(/[.]/g, '\\.')}$`);
  if (version === '3') return /^\$[A-Za-z0-9+/]{43}$/;
  return /^\$[A-Za-z0-9_-]{43}$/;
}

let users: Promise<{ alice: RegisteredUser; bob: RegisteredUser }> | undefined;
function accounts() {
  users ??= (async () => ({
    alice: await registerUser(shared.server.baseUrl, 'alice', 'pw-alice'),
    bob: await registerUser(shared.server.baseUrl, 'bob', 'pw-bob'),
  }))();
  return users;
}

function as(user: RegisteredUser, method: string, path: string, json?: unknown) {
  return request(shared.server.baseUrl, method, `/_matrix/client/v3${path}`, { token: user.accessToken, ...(json === undefined ? {} : { json }) });
}

test.serial('/capabilities lists every room version 1-12 as stable, 12 by default', async (t) => {
  const { alice } = await accounts();
  const caps = await as(alice, 'GET', '/capabilities');
  t.is(caps.status, 200);
  t.deepEqual(caps.body.capabilities['m.room_versions'], {
    default: '12',
    available: Object.fromEntries(ALL_VERSIONS.map((v) => [v, 'stable'])),
  });
});

for (const version of ['1', '2', '3', '6', '9']) {
  test.serial(`a room of version ${version}: create, join, messages and state both ways, read back, redact`, async (t) => {
    const { alice, bob } = await accounts();
    const serverName = shared.server.serverName;
    const created = await as(alice, 'POST', '/createRoom', { room_version: version, preset: 'public_chat', name: `v${version}`, topic: 'first' });
    t.is(created.status, 200, created.text);
    const roomId = created.body.room_id as string;
    t.true(roomId.startsWith('!') && roomId.endsWith(`:${serverName}`), roomId);
    const room = encodeURIComponent(roomId);

    const create = await as(bob, 'GET', `/rooms/${room}/state/m.room.create/`);
    t.is(create.status, 403, 'not joined yet');
    t.is((await as(bob, 'POST', `/rooms/${room}/join`, {})).status, 200);
    const createContent = (await as(bob, 'GET', `/rooms/${room}/state/m.room.create/`)).body;
    t.is(createContent.room_version, version);
    t.is(createContent.creator, alice.userId, 'versions 1-10 name the creator in content');

    // Messages from both, and state from Alice (topic) and from Bob (his own state key).
    const sent: Array<{ id: string; body: string }> = [];
    for (const [user, body] of [[alice, 'one'], [bob, 'two'], [alice, 'three'], [bob, 'four']] as const) {
      const r = await as(user, 'PUT', `/rooms/${room}/send/m.room.message/${version}-${body}`, { msgtype: 'm.text', body });
      t.is(r.status, 200, r.text);
      t.regex(r.body.event_id, eventIdPattern(version, serverName));
      sent.push({ id: r.body.event_id, body });
    }
    t.is(new Set(sent.map((s) => s.id)).size, 4);
    t.is((await as(alice, 'PUT', `/rooms/${room}/state/m.room.topic/`, { topic: 'second' })).status, 200);
    t.is((await as(bob, 'PUT', `/rooms/${room}/state/org.hearth.test.status/${encodeURIComponent(bob.userId)}`, { mood: 'fine' })).status, 403,
      'Bob is below state_default');
    const powerLevels = (await as(alice, 'GET', `/rooms/${room}/state/m.room.power_levels/`)).body;
    t.is(powerLevels.users[alice.userId], 100);

    // /messages, newest first: Bob sees everything in order.
    const messages = await as(bob, 'GET', `/rooms/${room}/messages?dir=b&limit=50`);
    t.is(messages.status, 200, messages.text);
    const chunk = messages.body.chunk as Array<{ type: string; event_id: string; sender: string; content: { body?: string } }>;
    t.deepEqual(chunk.filter((e) => e.type === 'm.room.message').map((e) => [e.sender, e.content.body]), [
      [bob.userId, 'four'], [alice.userId, 'three'], [bob.userId, 'two'], [alice.userId, 'one'],
    ]);
    t.is(chunk.at(-1)!.type, 'm.room.create');
    for (const event of chunk) {
      t.regex(event.event_id, eventIdPattern(version, serverName));
      // The client format, whatever the room version: no federation fields ([id, hash] pairs included).
      for (const key of ['prev_events', 'auth_events', 'hashes', 'signatures', 'depth']) t.false(key in event, key);
    }

    // /state: the new topic, both members joined.
    const state = (await as(bob, 'GET', `/rooms/${room}/state`)).body as Array<{ type: string; state_key: string; content: Record<string, unknown> }>;
    t.is(state.find((e) => e.type === 'm.room.topic')?.content.topic, 'second');
    t.deepEqual(state.filter((e) => e.type === 'm.room.member').map((e) => [e.state_key, e.content.membership]).sort(), [[alice.userId, 'join'], [bob.userId, 'join']].sort());

    // Each event by its id (v3 ids hold '/' and '+': the path must carry them encoded).
    for (const { id, body } of sent) {
      const event = await as(bob, 'GET', `/rooms/${room}/event/${encodeURIComponent(id)}`);
      t.is(event.status, 200, event.text);
      t.is(event.body.content.body, body);
      t.is(event.body.event_id, id);
    }

    // Redactions: Alice (redact level) redacts Bob's; Bob redacts his own (in v1/v2 the auth rule
    // allows it because both event ids have this server's domain).
    for (const [user, target, txn] of [[alice, sent[1]!.id, 'r1'], [bob, sent[3]!.id, 'r2']] as const) {
      const r = await as(user, 'PUT', `/rooms/${room}/redact/${encodeURIComponent(target)}/${version}-${txn}`, { reason: 'test' });
      t.is(r.status, 200, r.text);
      const redacted = await as(alice, 'GET', `/rooms/${room}/event/${encodeURIComponent(target)}`);
      t.deepEqual(redacted.body.content, {});
      t.is(redacted.body.unsigned?.redacted_because?.event_id, r.body.event_id);
    }
    // Bob cannot redact Alice's message (no redact level).
    t.is((await as(bob, 'PUT', `/rooms/${room}/redact/${encodeURIComponent(sent[0]!.id)}/${version}-r3`, {})).status, 403);
    t.is((await as(bob, 'GET', `/rooms/${room}/event/${encodeURIComponent(sent[0]!.id)}`)).body.content.body, 'one');
  });
}

test.serial('matrix-js-sdk in a room of each version 1-12: created, joined and synced with the server\'s event ids', async (t) => {
  const { alice, bob } = await accounts();
  const aliceClient = await startSdkClient(shared.server.baseUrl, alice);
  const bobClient = await startSdkClient(shared.server.baseUrl, bob);
  shared.clients.push(aliceClient, bobClient);
  t.teardown(() => {
    aliceClient.stopClient();
    bobClient.stopClient();
  });
  for (const version of ALL_VERSIONS) {
    const { room_id: roomId } = await aliceClient.createRoom({ room_version: version, preset: sdk.Preset.PublicChat, name: `sdk v${version}` });
    await bobClient.joinRoom(roomId);
    const sent: string[] = [];
    for (const body of ['first', 'second']) sent.push((await aliceClient.sendTextMessage(roomId, body)).event_id);
    await waitFor(() => {
      const room = bobClient.getRoom(roomId);
      return room !== null && liveMessages(room).length === 2;
    }, `bob's client sees both messages in the v${version} room`);
    const seen = liveMessages(bobClient.getRoom(roomId)!);
    t.deepEqual(seen.map((e) => [e.getId(), e.getContent().body]), [[sent[0], 'first'], [sent[1], 'second']]);
    for (const id of sent) t.regex(id, eventIdPattern(version, shared.server.serverName));
    t.is(bobClient.getRoom(roomId)!.getVersion(), version);
  }
});

test.serial('knocking is refused in a room version without it', async (t) => {
  const { alice } = await accounts();
  const created = await as(alice, 'POST', '/createRoom', { room_version: '6', initial_state: [{ type: 'm.room.join_rules', state_key: '', content: { join_rule: 'knock' } }] });
  t.is(created.status, 200, created.text);
  const carol = await registerUser(shared.server.baseUrl, 'carol', 'pw-carol');
  const knock = await as(carol, 'POST', `/knock/${encodeURIComponent(created.body.room_id)}`, {});
  t.is(knock.status, 403, knock.text);
  t.is(knock.body.errcode, 'M_FORBIDDEN');
});

test.serial('default_room_version in hearth.yaml picks the version of rooms created without one', async (t) => {
  appendFileSync(join(shared.server.dataDir, 'hearth.yaml'), '\ndefault_room_version: 9\n');
  await shared.server.restart();
  const alice = { ...(await accounts()).alice };
  const caps = await as(alice, 'GET', '/capabilities');
  t.is(caps.body.capabilities['m.room_versions'].default, '9');
  const created = await as(alice, 'POST', '/createRoom', { preset: 'private_chat' });
  t.is(created.status, 200, created.text);
  const create = await as(alice, 'GET', `/rooms/${encodeURIComponent(created.body.room_id)}/state/m.room.create/`);
  t.is(create.body.room_version, '9');
});
