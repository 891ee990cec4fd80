/**
 * The Synapse federation peer itself (scripts/synapse-peer, test/integration/helpers/synapse.ts):
 * what the federation tests stand on. A Synapse starts on loopback, serves its Client-Server API and
 * its keys over its TLS federation listener, and two of them federate with each other, which proves
 * the loopback settings (self-signed certificates accepted, 127.0.0.1 not blocked, no notary).
 */
import anyTest, { type TestFn } from 'ava';
import { request } from '../integration/helpers/http.js';
import { sleep } from '../integration/helpers/server.js';
import { getInsecureTls, startSynapse, type SynapsePeer } from '../integration/helpers/synapse.js';

// Two Synapses for the whole file: each start costs seconds of CPU on a shared machine.
const test = anyTest as TestFn<{ a: SynapsePeer; b: SynapsePeer }>;

test.before(async (t) => {
  const [a, b] = await Promise.allSettled([startSynapse(), startSynapse()]);
  if (a.status === 'rejected' || b.status === 'rejected') {
    if (a.status === 'fulfilled') await a.value.stop();
    if (b.status === 'fulfilled') await b.value.stop();
    throw a.status === 'rejected' ? a.reason : (b as PromiseRejectedResult).reason;
  }
  t.context = { a: a.value, b: b.value };
});

test.after.always(async (t) => {
  await Promise.all([t.context.a?.stop(), t.context.b?.stop()]);
});

function stateOf(state: any[], type: string, stateKey = ''): any {
  return state.find((event) => event.type === type && event.state_key === stateKey);
}

test('a Synapse peer registers users, creates a room and serves its keys over TLS', async (t) => {
  const synapse = t.context.a;
  t.regex(synapse.serverName, /^127\.0\.0\.1:\d+$/);
  t.is(synapse.serverName, `127.0.0.1:${synapse.federationPort}`);

  const alice = await synapse.registerUser('alice');
  t.is(alice.userId, `@alice:${synapse.serverName}`);

  const created = await request(synapse.clientUrl, 'POST', '/_matrix/client/v3/createRoom', {
    token: alice.accessToken,
    json: { room_version: '10', preset: 'private_chat', name: 'Peer room', topic: 'Checked from /state' },
  });
  t.is(created.status, 200, created.text);
  const roomId: string = created.body.room_id;
  t.true(roomId.endsWith(`:${synapse.serverName}`), roomId);

  const state = await request(synapse.clientUrl, 'GET', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/state`, {
    token: alice.accessToken,
  });
  t.is(state.status, 200, state.text);
  t.like(stateOf(state.body, 'm.room.create'), { sender: alice.userId, content: { room_version: '10', creator: alice.userId } });
  t.deepEqual(stateOf(state.body, 'm.room.name').content, { name: 'Peer room' });
  t.deepEqual(stateOf(state.body, 'm.room.topic').content.topic, 'Checked from /state');
  t.is(stateOf(state.body, 'm.room.member', alice.userId).content.membership, 'join');
  t.is(stateOf(state.body, 'm.room.power_levels').content.users[alice.userId], 100);
  t.is(stateOf(state.body, 'm.room.join_rules').content.join_rule, 'invite');

  // The federation listener: TLS with a self-signed certificate, the server's own signed keys.
  const keys = await getInsecureTls(`${synapse.federationUrl}/_matrix/key/v2/server`);
  t.is(keys.status, 200, keys.text);
  t.is(keys.body.server_name, synapse.serverName);
  const keyIds = Object.keys(keys.body.verify_keys);
  t.is(keyIds.length, 1);
  t.regex(keyIds[0]!, /^ed25519:/);
  t.truthy(keys.body.signatures[synapse.serverName][keyIds[0]!]);
  const version = await getInsecureTls(`${synapse.federationUrl}/_matrix/federation/v1/version`);
  t.is(version.body.server.name, 'Synapse');
  // Unsigned federation requests are refused: the listener is the real Server-Server API.
  const unsigned = await getInsecureTls(`${synapse.federationUrl}/_matrix/federation/v1/query/profile?user_id=${encodeURIComponent(alice.userId)}`);
  t.is(unsigned.status, 401, unsigned.text);
});

test('two Synapse peers federate on loopback: an invite, a join and a message cross', async (t) => {
  const { a, b } = t.context;
  const carol = await a.registerUser('carol');
  const bob = await b.registerUser('bob');

  const created = await request(a.clientUrl, 'POST', '/_matrix/client/v3/createRoom', {
    token: carol.accessToken,
    json: { room_version: '11', preset: 'private_chat', name: 'Across', invite: [bob.userId] },
  });
  t.is(created.status, 200, created.text);
  const roomId: string = created.body.room_id;
  const roomPath = `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}`;

  // The invite reached b over federation (createRoom sends it synchronously): bob joins through a.
  const joined = await request(b.clientUrl, 'POST', `/_matrix/client/v3/join/${encodeURIComponent(roomId)}?server_name=${encodeURIComponent(a.serverName)}`, {
    token: bob.accessToken,
    json: {},
  });
  t.is(joined.status, 200, `${joined.text}\n${b.log()}`);

  const sent = await request(a.clientUrl, 'PUT', `${roomPath}/send/m.room.message/txn1`, {
    token: carol.accessToken,
    json: { msgtype: 'm.text', body: 'hello from a' },
  });
  t.is(sent.status, 200, sent.text);

  // Federation is asynchronous: wait (bounded) until the message is in bob's timeline on b.
  let bodies: string[] = [];
  for (let attempt = 0; attempt < 200 && !bodies.includes('hello from a'); attempt++) {
    if (attempt > 0) await sleep(100);
    const messages = await request(b.clientUrl, 'GET', `${roomPath}/messages?dir=b&limit=20`, { token: bob.accessToken });
    t.is(messages.status, 200, messages.text);
    bodies = messages.body.chunk.filter((e: any) => e.type === 'm.room.message').map((e: any) => e.content.body);
  }
  t.deepEqual(bodies, ['hello from a'], b.log());

  const stateOnB = await request(b.clientUrl, 'GET', `${roomPath}/state`, { token: bob.accessToken });
  t.is(stateOnB.status, 200, stateOnB.text);
  t.deepEqual(stateOf(stateOnB.body, 'm.room.name').content, { name: 'Across' });
  t.is(stateOf(stateOnB.body, 'm.room.create').content.room_version, '11');
  t.is(stateOf(stateOnB.body, 'm.room.member', carol.userId).content.membership, 'join');
  t.is(stateOf(stateOnB.body, 'm.room.member', bob.userId).content.membership, 'join');
  // And a sees bob's join that came back over federation.
  const bobOnA = await request(a.clientUrl, 'GET', `${roomPath}/state/m.room.member/${encodeURIComponent(bob.userId)}`, {
    token: carol.accessToken,
  });
  t.is(bobOnA.status, 200, bobOnA.text);
  t.is(bobOnA.body.membership, 'join');
});
