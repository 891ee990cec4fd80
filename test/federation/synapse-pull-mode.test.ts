/**
 * Pull mode behind NAT (issue 12 "Proof" 4, against a real Synapse): Hearth's federation listener is
 * reached through a TCP relay standing in for the home router's port forward. Once the room is
 * joined the relay is cut for the rest of the test: Synapse can no longer push to Hearth, but
 * Hearth's own requests still go out. With `federation.pull_interval_seconds` set, the Synapse
 * user's messages still reach the Hearth user (pulled: the peer's extremities from a make_join template, get_missing_events), and
 * the Hearth user's reach Synapse (pushed; Synapse verifies them with the key it cached).
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import test from 'ava';
import { freePort, startHearth, type HearthServer } from '../integration/helpers/server.js';
import { registerUser, request } from '../integration/helpers/http.js';
import { startSynapse, type SynapsePeer } from '../integration/helpers/synapse.js';
import { call, converged, eventually, messageBodies, send, setDiagnostics, type Side } from './room-exchange.js';

let hearth: HearthServer;
let synapse: SynapsePeer;
let relay: Server;
const relayed = new Set<Socket>();

/** A TCP relay to Hearth's federation port (the router's port forward); `cut()` closes it for good. */
async function startRelay(port: number, target: () => number): Promise<Server> {
  const server = createServer((inbound) => {
    const outbound = connect(target(), '127.0.0.1');
    relayed.add(inbound).add(outbound);
    const drop = () => {
      inbound.destroy();
      outbound.destroy();
      relayed.delete(inbound);
      relayed.delete(outbound);
    };
    inbound.on('error', drop).on('close', drop);
    outbound.on('error', drop).on('close', drop);
    inbound.pipe(outbound).pipe(inbound);
  });
  await new Promise<void>((done) => server.listen(port, '127.0.0.1', done));
  return server;
}

function cut(): Promise<void> {
  for (const socket of relayed) socket.destroy();
  relayed.clear();
  return new Promise((done) => relay.close(() => done()));
}

test.before(async () => {
  const relayPort = await freePort();
  relay = await startRelay(relayPort, () => hearth.federationPort);
  [hearth, synapse] = await Promise.all([
    startHearth({ federated: true, env: { HEARTH_SERVER_NAME: `127.0.0.1:${relayPort}`, HEARTH_FEDERATION_PULL_INTERVAL_SECONDS: '1' } }),
    startSynapse(),
  ]);
  setDiagnostics(() => `--- hearth ---\n${hearth.output().slice(-6000)}\n--- synapse ---\n${synapse.log().slice(-3000)}`);
});

test.after.always(async () => {
  if (relay.listening) await cut();
  await Promise.all([hearth?.stop(), synapse?.stop()]);
});

test.serial('behind NAT: with the listener unreachable, the Synapse user\'s messages are pulled and the Hearth user\'s pushed', async (t) => {
  const bobAccount = await registerUser(hearth.baseUrl, 'bob', 'secret-password-1');
  const aliceAccount = await synapse.registerUser('alice');
  const bob: Side = { base: hearth.baseUrl, token: bobAccount.accessToken, userId: bobAccount.userId };
  const alice: Side = { base: synapse.clientUrl, token: aliceAccount.accessToken, userId: aliceAccount.userId };

  // First contact needs the listener: the invite, Synapse fetching our key, the join.
  const { room_id: roomId } = await call(bob, 'POST', '/_matrix/client/v3/createRoom', { preset: 'private_chat', name: 'behind nat' });
  await call(bob, 'POST', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/invite`, { user_id: alice.userId });
  await eventually('the invite on Synapse', async () => {
    const sync = await call(alice, 'GET', '/_matrix/client/v3/sync?timeout=0');
    return sync.rooms?.invite?.[roomId] ? true : undefined;
  });
  await call(alice, 'POST', `/_matrix/client/v3/join/${encodeURIComponent(roomId)}`, {});
  const expected = ['hello from bob'];
  await send(bob, roomId, 'hello from bob');
  await converged(alice, roomId, expected, 'the first message on Synapse');

  // The port forward is gone for the rest of the test.
  await cut();
  const probe = await request(synapse.clientUrl, 'GET', `/_matrix/client/v3/profile/${encodeURIComponent(bob.userId)}`, { token: alice.token });
  t.not(probe.status, 200, 'Synapse cannot reach Hearth any more');

  for (let i = 0; i < 10; i++) {
    const body = `alice while hearth is unreachable #${i}`;
    await send(alice, roomId, body);
    expected.push(body);
  }
  t.deepEqual(await converged(bob, roomId, expected, 'the Synapse user\'s messages pulled by Hearth'), expected);

  for (let i = 0; i < 10; i++) {
    const body = `bob while hearth is unreachable #${i}`;
    await send(bob, roomId, body);
    expected.push(body);
  }
  t.deepEqual(await converged(alice, roomId, expected, 'the Hearth user\'s messages pushed to Synapse'), expected);
  t.deepEqual(await messageBodies(bob, roomId), await messageBodies(alice, roomId));
});
