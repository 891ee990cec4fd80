/**
 * `hearth status` and `hearth doctor` on a federating gateway (issue 14): two Hearth gateways share a
 * room; the peer shows as reachable, caught up, in the summary and in the doctor's peers; once the
 * peer is stopped and a message waits for it, it shows unreachable with its failures, and the doctor
 * warns (exit 0: a warning, not an error of this gateway).
 */
import test from 'ava';
import type { GatewayStatus } from '../../src/admin/gateway-status.js';
import { registerUser } from './helpers/http.js';
import { cliEnvOf, runCli, startHearth, type HearthServer } from './helpers/server.js';
import { call, eventually, messageBodies, send, setDiagnostics, type Side } from '../federation/room-exchange.js';

const hearth = (args: string[], server: HearthServer) => runCli(args, cliEnvOf(server));

async function statusOf(server: HearthServer): Promise<GatewayStatus> {
  const res = await hearth(['status', '--json'], server);
  if (res.code !== 0) throw new Error(`hearth status: ${res.code} ${res.stderr}`);
  return JSON.parse(res.stdout) as GatewayStatus;
}

test('a peer server: reachable and caught up, then unreachable with a message waiting, in status and doctor', async (t) => {
  const [home, cabin] = await Promise.all([startHearth({ t, federated: true }), startHearth({ t, federated: true })]);
  setDiagnostics(() => `--- home ---\n${home.output().slice(-3000)}\n--- cabin ---\n${cabin.output().slice(-3000)}`);
  const [annUser, benUser] = await Promise.all([registerUser(home.baseUrl, 'ann', 'peer test password'), registerUser(cabin.baseUrl, 'ben', 'peer test password')]);
  const ann: Side = { base: home.baseUrl, token: annUser.accessToken, userId: annUser.userId };
  const ben: Side = { base: cabin.baseUrl, token: benUser.accessToken, userId: benUser.userId };
  const roomId = (await call(ann, 'POST', '/_matrix/client/v3/createRoom', { preset: 'public_chat' })).room_id as string;
  await call(ben, 'POST', `/_matrix/client/v3/join/${encodeURIComponent(roomId)}?server_name=${encodeURIComponent(home.serverName)}`, {});
  await send(ann, roomId, 'hello cabin');
  await eventually('ben reads it', async () => ((await messageBodies(ben, roomId)).includes('hello cabin') ? true : undefined));

  const caughtUp = await eventually('home is caught up with cabin', async () => {
    const peer = (await statusOf(home)).peers.find((p) => p.server === cabin.serverName);
    return peer && peer.reachable && peer.streamLag === 0 && peer.queueDepth === 0 ? peer : undefined;
  });
  t.deepEqual(caughtUp, { server: cabin.serverName, reachable: true, failures: 0, retryPending: false, queueDepth: 0, streamLag: 0 });
  const text = await hearth(['status'], home);
  t.regex(text.stdout, new RegExp(`^federation +1 peer server\\n +${cabin.serverName.replace(/\./g, '\\.')} +reachable; queue 0, behind by 0$`, 'm'));
  const healthy = await hearth(['doctor'], home);
  t.is(healthy.code, 0, healthy.stdout);
  t.regex(healthy.stdout, new RegExp(`^ok +peers +reachable: ${cabin.serverName.replace(/\./g, '\\.')}$`, 'm'));

  // The cabin goes away; a message for it waits.
  await cabin.kill('SIGTERM');
  await send(ann, roomId, 'while the cabin is away');
  const away = await eventually('home notices cabin is unreachable', async () => {
    const peer = (await statusOf(home)).peers.find((p) => p.server === cabin.serverName);
    return peer && !peer.reachable ? peer : undefined;
  });
  t.true(away.failures >= 1);
  t.true(away.streamLag >= 1, 'the message waits in its queue');
  const doctor = await hearth(['doctor'], home);
  t.is(doctor.code, 0, doctor.stdout);
  t.regex(doctor.stdout, new RegExp(`^warning +peers +${cabin.serverName.replace(/\./g, '\\.')} is unreachable: \\d+ failed sends(, retry pending)?; \\d+ items waiting, [1-9]\\d* stream positions behind$`, 'm'));
  t.regex(doctor.stdout, /-> nothing is lost: it catches up once reachable/);
  const awayText = await hearth(['status'], home);
  t.regex(awayText.stdout, new RegExp(`${cabin.serverName.replace(/\./g, '\\.')} +UNREACHABLE \\(\\d+ failures(, retry pending)?\\); queue \\d+, behind by [1-9]`));
});
