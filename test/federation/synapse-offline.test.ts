/**
 * Offline for days, converged in seconds (issue 12 "Proof" 1 and 2, against a real Synapse):
 *  1. Hearth stopped (SIGTERM), and again killed (SIGKILL), while the Synapse user sends 100 messages and changes the topic:
 *     Synapse cannot deliver and backs off; Hearth restarts, announces itself and pulls the room,
 *     and has all 100 in order and the new topic without waiting for Synapse's retry.
 *  2. Synapse stopped while the Hearth user sends 100 messages and renames the room; Hearth is
 *     killed mid-queue (everything acknowledged to the client, nothing delivered) and restarted;
 *     Synapse comes back and asks Hearth something (any signed request resets Hearth's backoff):
 *     more than 50 behind, Hearth sends the newest event (catch-up) and Synapse pulls the rest
 *     from Hearth (get_missing_events, backfill): all 100 and the name arrive, none twice.
 * Both servers' /messages end identical, in the same order.
 *  3. Partition: Hearth stopped (SIGTERM) while the Synapse user changes the topic and power levels
 *     and sends 120 messages, then Synapse down while the Hearth user does the same; healed, each
 *     server has both branches whole, each in order, and state resolution gives the same current
 *     state (same event per type and state key) on both.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import test from 'ava';
import { startHearth, type HearthServer } from '../integration/helpers/server.js';
import { registerUser, request } from '../integration/helpers/http.js';
import { startSynapse, type SynapsePeer } from '../integration/helpers/synapse.js';
import { call, converged, currentState, eventually, messageBodies, send, setDiagnostics, stateContentIfAny, type Side } from './room-exchange.js';

const run = promisify(execFile);

let hearth: HearthServer;
let synapse: SynapsePeer;

test.before(async () => {
  // info: the sender says when it switches to catch-up (asserted below).
  [hearth, synapse] = await Promise.all([startHearth({ federated: true, env: { HEARTH_LOG_LEVEL: 'info' } }), startSynapse()]);
  setDiagnostics(() => `--- hearth ---\n${hearth.output().slice(-6000)}\n--- synapse ---\n${synapse.log().slice(-3000)}`);
});

test.after.always(async () => {
  await Promise.all([hearth?.stop(), synapse?.stop()]);
});

/** `hearth federation status --json` against the running gateway (its admin socket). */
async function federationStatus(): Promise<any> {
  const { stdout } = await run(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'federation', 'status', '--json'], {
    cwd: fileURLToPath(new URL('../..', import.meta.url)),
    env: { ...process.env, HEARTH_DATA_DIR: hearth.dataDir, HEARTH_SERVER_NAME: hearth.serverName },
  });
  return JSON.parse(stdout);
}

test.serial('offline both ways: Hearth killed while Synapse talks, Synapse down while Hearth talks (killed mid-queue); both converge, in order, nothing lost or twice', async (t) => {
  const bobAccount = await registerUser(hearth.baseUrl, 'bob', 'secret-password-1');
  const aliceAccount = await synapse.registerUser('alice');
  const bob: Side = { base: hearth.baseUrl, token: bobAccount.accessToken, userId: bobAccount.userId };
  const alice: Side = { base: synapse.clientUrl, token: aliceAccount.accessToken, userId: aliceAccount.userId };

  const { room_id: roomId } = await call(bob, 'POST', '/_matrix/client/v3/createRoom', {
    preset: 'private_chat',
    name: 'offline',
    // Both may change the topic and name (the partition scenarios need it).
    power_level_content_override: { users: { [bob.userId]: 100, [alice.userId]: 100 } },
  });
  await call(bob, 'POST', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/invite`, { user_id: alice.userId });
  await eventually('the invite on Synapse', async () => {
    const sync = await call(alice, 'GET', '/_matrix/client/v3/sync?timeout=0');
    return sync.rooms?.invite?.[roomId] ? true : undefined;
  });
  await call(alice, 'POST', `/_matrix/client/v3/join/${encodeURIComponent(roomId)}`, {});
  const expected: string[] = [];
  await send(bob, roomId, 'hello from bob');
  expected.push('hello from bob');
  await converged(alice, roomId, expected, 'the first message on Synapse');
  await send(alice, roomId, 'hello from alice');
  expected.push('hello from alice');
  await converged(bob, roomId, expected, 'the first answer on Hearth');

  // 1. Hearth stopped (SIGTERM), then again killed (SIGKILL); Synapse's user goes on each time.
  // Synapse cannot deliver and backs off.
  for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
    const exit = await hearth.kill(signal);
    t.is(signal === 'SIGTERM' ? exit.code : exit.signal, signal === 'SIGTERM' ? 0 : 'SIGKILL');
    for (let i = 0; i < 100; i++) {
      const body = `alice while hearth is down (${signal}) #${i}`;
      await send(alice, roomId, body);
      expected.push(body);
    }
    const newTopic = `set while hearth was down (${signal})`;
    await call(alice, 'PUT', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/state/m.room.topic/`, { topic: newTopic });
    const restartedAt = Date.now();
    await hearth.restart();
    const servingAt = Date.now();
    const onHearth = await converged(bob, roomId, expected, `the 100 messages on Hearth after its ${signal} restart`);
    t.deepEqual(onHearth, expected, `Hearth has every message Synapse sent while it was down, in order (${signal})`);
    const topic = await eventually('the new topic on Hearth', async () => ((await stateContentIfAny(bob, roomId, 'm.room.topic'))?.topic === newTopic ? true : undefined));
    t.true(topic);
    t.log(`${signal}: Hearth caught up ${Date.now() - restartedAt} ms after its restart began, ${Date.now() - servingAt} ms after it was serving`);
  }

  // 2. Synapse down; Hearth's user goes on; Hearth killed with all of it queued, then restarted.
  await synapse.restart(async () => {
    for (let i = 0; i < 100; i++) {
      const body = `bob while synapse is down #${i}`;
      await send(bob, roomId, body);
      expected.push(body);
    }
    await call(bob, 'PUT', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/state/m.room.name/`, { name: 'renamed while synapse was down' });
    await hearth.kill('SIGKILL');
    await hearth.restart();
  });
  const backAt = Date.now();
  // Synapse asks Hearth for a profile: a signed request, so Hearth retries at once rather than after its backoff.
  await request(synapse.clientUrl, 'GET', `/_matrix/client/v3/profile/${encodeURIComponent(bob.userId)}`, { token: alice.token });
  const onSynapse = await converged(alice, roomId, expected, 'the 100 messages on Synapse after it came back');
  t.deepEqual(onSynapse, expected, 'Synapse has every message Hearth sent while it was down, in order, none twice');
  t.log(`Synapse caught up ${Date.now() - backAt} ms after it came back`);
  // 100 behind after failures: Hearth sent the newest event and Synapse pulled the other 99 from us.
  t.regex(hearth.output(), /federation catch-up: sending the newest event per room/);
  const status = await federationStatus();
  const toSynapse = status.destinations.find((d: any) => d.destination === synapse.serverName);
  t.like(toSynapse, { failures: 0, backingOff: false, outbox: 0, catchUps: 1 }, 'hearth federation status: caught up');
  const name = await eventually('the new name on Synapse', async () => ((await stateContentIfAny(alice, roomId, 'm.room.name'))?.name === 'renamed while synapse was down' ? true : undefined));
  t.true(name);

  // Both sides end identical.
  t.deepEqual(await messageBodies(bob, roomId), await messageBodies(alice, roomId));
  t.deepEqual(await stateContentIfAny(bob, roomId, 'm.room.topic'), await stateContentIfAny(alice, roomId, 'm.room.topic'));
  t.deepEqual(await stateContentIfAny(bob, roomId, 'm.room.name'), await stateContentIfAny(alice, roomId, 'm.room.name'));
});

/** Messages each side sends while the servers are apart. */
const PARTITION_BRANCH = 120;

test.serial('partition: both sides change the topic and power levels while apart; after healing the current state is identical on both servers', async (t) => {
  const bobAccount = await registerUser(hearth.baseUrl, 'bob-partition', 'secret-password-1');
  const aliceAccount = await synapse.registerUser('alice-partition');
  const bob: Side = { base: hearth.baseUrl, token: bobAccount.accessToken, userId: bobAccount.userId };
  const alice: Side = { base: synapse.clientUrl, token: aliceAccount.accessToken, userId: aliceAccount.userId };
  const { room_id: roomId } = await call(bob, 'POST', '/_matrix/client/v3/createRoom', {
    preset: 'private_chat',
    name: 'partition',
    power_level_content_override: { users: { [bob.userId]: 100, [alice.userId]: 100 } },
  });
  await call(bob, 'POST', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/invite`, { user_id: alice.userId });
  await eventually('the invite on Synapse', async () => {
    const sync = await call(alice, 'GET', '/_matrix/client/v3/sync?timeout=0');
    return sync.rooms?.invite?.[roomId] ? true : undefined;
  });
  await call(alice, 'POST', `/_matrix/client/v3/join/${encodeURIComponent(roomId)}`, {});
  await send(bob, roomId, 'before the partition');
  await converged(alice, roomId, ['before the partition'], 'the first message on Synapse');

  // Apart: Hearth down (stopped this time: SIGTERM) while Synapse's side changes things, then
  // Synapse down while Hearth's does.
  const stopped = await hearth.kill('SIGTERM');
  t.is(stopped.code, 0, 'a clean stop');
  await call(alice, 'PUT', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/state/m.room.topic/`, { topic: 'topic from synapse' });
  const levels = await call(alice, 'GET', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/state/m.room.power_levels/`);
  await call(alice, 'PUT', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/state/m.room.power_levels/`, { ...levels, events: { ...(levels.events ?? {}), 'm.room.topic': 75 } });
  // Each side's branch is long (past one get_missing_events answer and one 50-PDU transaction), so
  // healing has to walk both forks from the point they split: no message of either may be lost.
  const aliceBranch = Array.from({ length: PARTITION_BRANCH }, (_, i) => `alice apart #${i}`);
  const bobBranch = Array.from({ length: PARTITION_BRANCH }, (_, i) => `bob apart #${i}`);
  for (const body of aliceBranch) await send(alice, roomId, body);
  await synapse.restart(async () => {
    await hearth.restart();
    await call(bob, 'PUT', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/state/m.room.topic/`, { topic: 'topic from hearth' });
    const ours = await call(bob, 'GET', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/state/m.room.power_levels/`);
    await call(bob, 'PUT', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/state/m.room.power_levels/`, { ...ours, state_default: 60 });
    for (const body of bobBranch) await send(bob, roomId, body);
  });

  // Healed: Synapse asks Hearth something, Hearth retries at once; each side pulls the other's branch.
  await request(synapse.clientUrl, 'GET', `/_matrix/client/v3/profile/${encodeURIComponent(bob.userId)}`, { token: alice.token });
  const total = 1 + 2 * PARTITION_BRANCH;
  const both = await eventually('both branches whole on both servers', async () => {
    const [onHearth, onSynapse] = await Promise.all([messageBodies(bob, roomId), messageBodies(alice, roomId)]);
    if (onHearth.length > total || onSynapse.length > total) throw new Error(`more messages than sent: ${onHearth.length}, ${onSynapse.length}`);
    if (onHearth.length === total && onSynapse.length === total) return { onHearth, onSynapse };
    const all = ['before the partition', ...aliceBranch, ...bobBranch];
    const missing = (list: string[]) => all.filter((b) => !list.includes(b));
    throw new Error(`not yet: missing on Hearth ${JSON.stringify(missing(onHearth))}, on Synapse ${JSON.stringify(missing(onSynapse))}`);
  }, 90_000);
  for (const [server, list] of [['Hearth', both.onHearth], ['Synapse', both.onSynapse]] as const) {
    // The two forks interleave differently on each server (each orders its own timeline); each
    // branch keeps its order and nothing is missing or twice.
    t.deepEqual([...list].sort(), ['before the partition', ...aliceBranch, ...bobBranch].sort(), `${server} has every message of both branches once`);
    t.deepEqual(list.filter((b) => b.startsWith('alice apart')), aliceBranch, `${server}: Synapse's branch in order`);
    t.deepEqual(list.filter((b) => b.startsWith('bob apart')), bobBranch, `${server}: Hearth's branch in order`);
  }
  const [hearthState, synapseState] = await eventually('the same current state on both servers', async () => {
    const states = await Promise.all([currentState(bob, roomId), currentState(alice, roomId)]);
    return JSON.stringify(states[0]) === JSON.stringify(states[1]) ? states : undefined;
  });
  t.deepEqual(hearthState, synapseState);
  t.deepEqual(await stateContentIfAny(bob, roomId, 'm.room.topic'), await stateContentIfAny(alice, roomId, 'm.room.topic'));
  t.deepEqual(await stateContentIfAny(bob, roomId, 'm.room.power_levels'), await stateContentIfAny(alice, roomId, 'm.room.power_levels'));
});
