/**
 * Offline for days between two gateways (issue 12 "Proof": "Two Hearth instances through scenarios
 * 1 and 3 as well"), the same scenarios `synapse-offline.test.ts` runs against Synapse:
 *  1. `home` stopped (SIGTERM), then again killed (SIGKILL), while `cabin`'s user sends 100 messages
 *     and changes the topic; `cabin` cannot deliver and backs off; `home` restarts, announces itself
 *     and pulls: it has all 100 in order and the new topic, without waiting for `cabin`'s retry.
 *  3. Partition: `home` down while `cabin`'s user changes the topic and power levels, then `cabin`
 *     down while `home`'s does; healed, state resolution gives identical current state on both.
 */
import test from 'ava';
import { registerUser } from '../integration/helpers/http.js';
import { startHearth, type HearthServer } from '../integration/helpers/server.js';
import { call, converged, currentState, eventually, messageBodies, roomPath, send, setDiagnostics, stateContentIfAny, type Side } from './room-exchange.js';

let home: HearthServer;
let cabin: HearthServer;

test.before(async () => {
  [home, cabin] = await Promise.all([startHearth({ federated: true }), startHearth({ federated: true })]);
  setDiagnostics(() => `--- home ---\n${home.output().slice(-4000)}\n--- cabin ---\n${cabin.output().slice(-4000)}`);
});

test.after.always(async () => {
  await Promise.all([home?.stop(), cabin?.stop()]);
});

const path = roomPath;

async function topicOf(side: Side, roomId: string): Promise<string | undefined> {
  return (await stateContentIfAny(side, roomId, 'm.room.topic'))?.topic;
}

/** A room on home, cabin's user joined, both at power 100; one message across. */
async function sharedRoom(tag: string): Promise<{ ann: Side; ben: Side; roomId: string }> {
  const [annUser, benUser] = await Promise.all([registerUser(home.baseUrl, `ann-${tag}`, 'secret-password-1'), registerUser(cabin.baseUrl, `ben-${tag}`, 'secret-password-1')]);
  const ann: Side = { base: home.baseUrl, token: annUser.accessToken, userId: annUser.userId };
  const ben: Side = { base: cabin.baseUrl, token: benUser.accessToken, userId: benUser.userId };
  const { room_id: roomId } = await call(ann, 'POST', '/_matrix/client/v3/createRoom', {
    preset: 'private_chat',
    name: tag,
    power_level_content_override: { users: { [ann.userId]: 100, [ben.userId]: 100 } },
  });
  await call(ann, 'POST', path(roomId, '/invite'), { user_id: ben.userId });
  await eventually('the invite on cabin', async () => ((await call(ben, 'GET', '/_matrix/client/v3/sync?timeout=0')).rooms?.invite?.[roomId] ? true : undefined));
  await call(ben, 'POST', `/_matrix/client/v3/join/${encodeURIComponent(roomId)}`, {});
  await send(ann, roomId, `${tag}: hello`);
  await converged(ben, roomId, [`${tag}: hello`], 'the first message on cabin');
  return { ann, ben, roomId };
}

test.serial('scenario 1: home stopped (SIGTERM), then killed (SIGKILL), while cabin sends 100 messages and a topic each time; home has all of it in order after its restart', async (t) => {
  const { ann, ben, roomId } = await sharedRoom('offline');
  const expected = ['offline: hello'];
  for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
    const exit = await home.kill(signal);
    t.is(signal === 'SIGTERM' ? exit.code : exit.signal, signal === 'SIGTERM' ? 0 : 'SIGKILL');
    for (let i = 0; i < 100; i++) {
      const body = `ben while home is down (${signal}) #${i}`;
      await send(ben, roomId, body);
      expected.push(body);
    }
    await call(ben, 'PUT', path(roomId, '/state/m.room.topic/'), { topic: `set while home was down (${signal})` });
    await home.restart();
    const onHome = await converged(ann, roomId, expected, `the 100 messages on home after its ${signal} restart`);
    t.deepEqual(onHome, expected, `in order, none twice (${signal})`);
    await eventually(`the topic on home (${signal})`, async () => ((await topicOf(ann, roomId)) === `set while home was down (${signal})` ? true : undefined));
  }
  t.deepEqual(await messageBodies(ben, roomId), expected, 'cabin has the same history');
});

test.serial('scenario 3: a partition with topic and power-level changes on both sides; after healing the current state is identical on both', async (t) => {
  const { ann, ben, roomId } = await sharedRoom('partition');
  t.is((await home.kill('SIGTERM')).code, 0);
  await call(ben, 'PUT', path(roomId, '/state/m.room.topic/'), { topic: 'topic from cabin' });
  const levels = await call(ben, 'GET', path(roomId, '/state/m.room.power_levels/'));
  await call(ben, 'PUT', path(roomId, '/state/m.room.power_levels/'), { ...levels, events: { ...(levels.events ?? {}), 'm.room.topic': 75 } });
  // Long branches on both sides (past one get_missing_events answer and one transaction): healing
  // must find the other side's branch from its forward extremities and walk it whole.
  const benBranch = Array.from({ length: 80 }, (_, i) => `ben apart #${i}`);
  const annBranch = Array.from({ length: 80 }, (_, i) => `ann apart #${i}`);
  for (const body of benBranch) await send(ben, roomId, body);
  await cabin.kill('SIGTERM');
  await home.restart();
  await call(ann, 'PUT', path(roomId, '/state/m.room.topic/'), { topic: 'topic from home' });
  const ours = await call(ann, 'GET', path(roomId, '/state/m.room.power_levels/'));
  await call(ann, 'PUT', path(roomId, '/state/m.room.power_levels/'), { ...ours, state_default: 60 });
  for (const body of annBranch) await send(ann, roomId, body);
  await cabin.restart();

  const total = 1 + benBranch.length + annBranch.length;
  const both = await eventually('both branches whole on both servers', async () => {
    const [onHome, onCabin] = await Promise.all([messageBodies(ann, roomId), messageBodies(ben, roomId)]);
    return onHome.length >= total && onCabin.length >= total ? { onHome, onCabin } : undefined;
  });
  for (const [server, list] of [['home', both.onHome], ['cabin', both.onCabin]] as const) {
    t.is(list.length, total, `${server}: every message once`);
    t.deepEqual(list.filter((b) => b.startsWith('ben apart')), benBranch, `${server}: cabin's branch whole, in order`);
    t.deepEqual(list.filter((b) => b.startsWith('ann apart')), annBranch, `${server}: home's branch whole, in order`);
  }
  const [homeState, cabinState] = await eventually('the same current state on both servers', async () => {
    const states = await Promise.all([currentState(ann, roomId), currentState(ben, roomId)]);
    return JSON.stringify(states[0]) === JSON.stringify(states[1]) ? states : undefined;
  });
  t.deepEqual(homeState, cabinState);
  // Each contested key resolved to one of the two sides' events, the same on both servers.
  const resolvedLevels = await call(ann, 'GET', path(roomId, '/state/m.room.power_levels/'));
  t.deepEqual(resolvedLevels, await call(ben, 'GET', path(roomId, '/state/m.room.power_levels/')));
  t.true(resolvedLevels.state_default === 60 || resolvedLevels.events?.['m.room.topic'] === 75, JSON.stringify(resolvedLevels));
  const topic = await topicOf(ann, roomId);
  t.true(topic === 'topic from home' || topic === 'topic from cabin', topic);
  t.is(await topicOf(ben, roomId), topic);
});
