/**
 * Issue 12 "Offline for days": a gateway whose clock is wrong refuses to sign or judge keys, says
 * so in /health, `hearth federation status` and the log, keeps serving its home, and resumes by
 * itself once the clock is right. Two Hearth gateways; `home` is restarted with
 * `federation.clock_not_before` 45 s ahead of the real time, so its real clock reads before the
 * earliest possible date until the real time passes it (a clock that is set, without a restart).
 */
import anyTest, { type TestFn } from 'ava';
import type { HearthConfig } from '../../src/config/config.js';
import { runFederationCommand, type FederationStatusResult } from '../../src/cli/federation.js';
import { loadOrCreateKeyring } from '../../src/federation/keys/key-files.js';
import { FederationClient, FederationRequestError, systemResolverPorts } from '../../src/federation/transport/client.js';
import { ServerResolver } from '../../src/federation/transport/resolver.js';
import { registerUser, request } from '../integration/helpers/http.js';
import { startHearth, type HearthServer } from '../integration/helpers/server.js';
import { getInsecureTls } from '../integration/helpers/synapse.js';
import { call, eventually, setDiagnostics, type Side } from './room-exchange.js';

const test = anyTest as TestFn<{ home: HearthServer; cabin: HearthServer }>;

/** How far ahead of the real time home's floor is set: its restart and the checks of the wrong clock fit in it. */
const WRONG_FOR_MS = 45_000;

test.before(async (t) => {
  const [home, cabin] = await Promise.allSettled([
    startHearth({ federated: true, env: { HEARTH_LOG_LEVEL: 'info' } }),
    startHearth({ federated: true }),
  ]);
  if (home.status === 'rejected' || cabin.status === 'rejected') {
    if (home.status === 'fulfilled') await home.value.stop();
    if (cabin.status === 'fulfilled') await cabin.value.stop();
    throw home.status === 'rejected' ? home.reason : (cabin as PromiseRejectedResult).reason;
  }
  t.context = { home: home.value, cabin: cabin.value };
  setDiagnostics(() => `--- home ---\n${home.value.output().slice(-4000)}\n--- cabin ---\n${cabin.value.output().slice(-3000)}`);
});

test.after.always(async (t) => {
  await Promise.all([t.context.home?.stop(), t.context.cabin?.stop()]);
});

async function federationStatus(h: HearthServer): Promise<{ lines: string[]; json: FederationStatusResult }> {
  const config = { dataDir: h.dataDir } as HearthConfig;
  const lines: string[] = [];
  const jsonLines: string[] = [];
  mustSucceed(await runFederationCommand(['status'], { config, out: (l) => lines.push(l), err: (l) => lines.push(l) }), lines);
  mustSucceed(await runFederationCommand(['status', '--json'], { config, out: (l) => jsonLines.push(l), err: (l) => jsonLines.push(l) }), jsonLines);
  return { lines, json: JSON.parse(jsonLines.join('\n')) as FederationStatusResult };
}

function mustSucceed(code: number, output: string[]): void {
  if (code !== 0) throw new Error(`hearth federation status exited ${code}: ${output.join('\n')}`);
}

async function bodies(side: Side, roomId: string): Promise<string[]> {
  const page = await call(side, 'GET', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/messages?dir=b&limit=100`);
  return (page.chunk as any[]).filter((e) => e.type === 'm.room.message').map((e) => e.content.body as string).reverse();
}

const occurrences = (text: string, needle: string) => text.split(needle).length - 1;

test.serial('with a wrong clock federation waits (nothing signed, signed requests refused with 503), the home is served; once set, everything resumes', async (t) => {
  const { home, cabin } = t.context;
  const [annUser, benUser] = await Promise.all([registerUser(home.baseUrl, 'ann', 'secret-password-1'), registerUser(cabin.baseUrl, 'ben', 'secret-password-1')]);
  const ann: Side = { base: home.baseUrl, token: annUser.accessToken, userId: annUser.userId };
  const ben: Side = { base: cabin.baseUrl, token: benUser.accessToken, userId: benUser.userId };

  // A room on home that cabin's ben joined, and a message across: federation works.
  const roomId = (await call(ann, 'POST', '/_matrix/client/v3/createRoom', { preset: 'public_chat' })).room_id as string;
  await call(ben, 'POST', `/_matrix/client/v3/join/${encodeURIComponent(roomId)}?server_name=${encodeURIComponent(home.serverName)}`, {});
  await call(ann, 'PUT', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/t1`, { msgtype: 'm.text', body: 'before' });
  await eventually('ben reads the first message', async () => ((await bodies(ben, roomId)).includes('before') ? true : undefined));
  const cabinRoom = (await call(ben, 'POST', '/_matrix/client/v3/createRoom', { preset: 'public_chat' })).room_id as string;

  // home restarts with a clock that reads before the earliest possible date.
  const floor = new Date(Date.now() + WRONG_FOR_MS).toISOString();
  await home.restart({ HEARTH_FEDERATION_CLOCK_NOT_BEFORE: floor });

  // /health: still 200 (the home is served), saying federation is paused and why.
  const health = await request(home.baseUrl, 'GET', '/health');
  t.is(health.status, 200, health.text);
  t.regex(health.text, new RegExp(`^OK\\nfederation is paused: this server's clock is not set \\(the clock reads \\S+, before ${floor.replace(/\./g, '\\.')}, the earliest possible date\\)\\n$`));

  // `hearth federation status`: the clock first, and the destination failing without a transaction.
  const wrong = await federationStatus(home);
  t.regex(wrong.lines[0]!, /^clock: WRONG, federation paused since \S+: the clock reads \S+, before /);
  t.like(wrong.json.clock, { sane: false, problem: 'before-floor' });
  const toCabin = await eventually('home backs off from cabin', async () => {
    const d = (await federationStatus(home)).json.destinations.find((x) => x.destination === cabin.serverName);
    return d && d.failures > 0 ? d : undefined;
  });
  t.is(toCabin.transactions, 0);

  // Local messaging works.
  await call(ann, 'PUT', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/t2`, { msgtype: 'm.text', body: 'while the clock is wrong' });
  t.deepEqual(await bodies(ann, roomId), ['before', 'while the clock is wrong']);
  const local = (await call(ann, 'POST', '/_matrix/client/v3/createRoom', { preset: 'private_chat' })).room_id as string;
  await call(ann, 'PUT', `/_matrix/client/v3/rooms/${encodeURIComponent(local)}/send/m.room.message/t3`, { msgtype: 'm.text', body: 'at home' });
  t.deepEqual(await bodies(ann, local), ['at home']);

  // A join that needs another server: refused with the reason, nothing sent.
  const join = await request(home.baseUrl, 'POST', `/_matrix/client/v3/join/${encodeURIComponent(cabinRoom)}?server_name=${encodeURIComponent(cabin.serverName)}`, { token: ann.token, json: {} });
  t.is(join.status, 503, join.text);
  t.is(join.body.errcode, 'M_UNKNOWN');
  t.regex(join.body.error, /clock is not set/);

  // Signed requests to home and its key set: 503, not judged with the wrong clock.
  const cabinKey = loadOrCreateKeyring(cabin.dataDir, cabin.serverName).current;
  const asCabin = new FederationClient({ serverName: cabin.serverName, signingKey: () => cabinKey, resolver: new ServerResolver(systemResolverPorts({ verifyTls: false })), verifyTls: false });
  t.teardown(() => asCabin.close());
  const refused = await t.throwsAsync(asCabin.get(home.serverName, '/_matrix/federation/v1/query/profile', { user_id: ann.userId }));
  t.like(refused as FederationRequestError, { status: 503, errcode: 'M_UNKNOWN' });
  t.regex((refused as FederationRequestError).message, /clock is not set/);
  const keys = await getInsecureTls(`https://127.0.0.1:${home.federationPort}/_matrix/key/v2/server`);
  t.deepEqual([keys.status, keys.body.errcode], [503, 'M_UNKNOWN']);

  // ben writes meanwhile: cabin's push is refused by home and retried later.
  await call(ben, 'PUT', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/b1`, { msgtype: 'm.text', body: 'from the cabin' });
  t.true(Date.now() < Date.parse(floor), 'the checks of the wrong clock ran while it was wrong (else the machine is too slow for WRONG_FOR_MS)');

  // The real time passes the floor: the clock is right, without a restart.
  await eventually('home\'s clock is right', async () => ((await request(home.baseUrl, 'GET', '/health')).text === 'OK' ? true : undefined), WRONG_FOR_MS + 60_000);
  await eventually('ben reads what ann wrote while the clock was wrong', async () => ((await bodies(ben, roomId)).includes('while the clock is wrong') ? true : undefined));
  await eventually('ann reads what ben wrote meanwhile', async () => ((await bodies(ann, roomId)).includes('from the cabin') ? true : undefined));
  await call(ann, 'POST', `/_matrix/client/v3/join/${encodeURIComponent(cabinRoom)}?server_name=${encodeURIComponent(cabin.serverName)}`, {});
  t.deepEqual(await asCabin.get(home.serverName, '/_matrix/federation/v1/query/profile', { user_id: ann.userId }), { displayname: 'ann' });
  const right = await federationStatus(home);
  t.regex(right.lines[0]!, /^clock: ok /);
  t.like(right.json.clock, { sane: true });
  // cabin fetched home's key set to verify its requests (from 127.0.0.1, where cabin is reached):
  // its copy is valid for the published seven days from then.
  const copy = right.json.keyCopies.find((k) => k.destination === cabin.serverName);
  t.truthy(copy?.fetchedAt, JSON.stringify(right.json.keyCopies));
  t.is(copy!.expiresAt! - copy!.fetchedAt!, 7 * 24 * 3600 * 1000);
  t.true(right.lines.some((l) => /^ {2}its copy of our signing key: fetched \S+, valid until \S+$/.test(l)), right.lines.join('\n'));

  // Said once each way in the log (the restart's run only: the first run's clock was right).
  const log = home.output();
  t.is(occurrences(log, 'the clock is wrong: federation is paused'), 1, log.slice(-4000));
  t.is(occurrences(log, 'the clock is set: federation resumes'), 1, log.slice(-4000));
});
