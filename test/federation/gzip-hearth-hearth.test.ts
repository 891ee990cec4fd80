/**
 * gzip between two Hearth gateways as real processes (issue 12 "Thin uplinks"): `cabin` joins a
 * room of `home` (its send_join answer read through the gzip-asking client), `home` sends 150
 * messages, and a request signed with cabin's key for the last 100 of them (`/backfill`), or for the
 * room's state, comes back gzip-compressed on the wire when it accepts gzip and as identity when
 * it does not, with the same JSON either way; cabin's own client decodes it, whole and streamed.
 */
import anyTest, { type TestFn } from 'ava';
import { gunzipSync } from 'node:zlib';
import { FederationClient, systemResolverPorts } from '../../src/federation/transport/client.js';
import { ServerResolver } from '../../src/federation/transport/resolver.js';
import { loadOrCreateKeyring } from '../../src/federation/keys/key-files.js';
import { signedFederationGet } from '../integration/helpers/signed-federation-get.js';
import { registerUser, sendText } from '../integration/helpers/http.js';
import { startHearth, type HearthServer } from '../integration/helpers/server.js';
import { call, eventually, setDiagnostics, type Side } from './room-exchange.js';

const test = anyTest as TestFn<{ home: HearthServer; cabin: HearthServer }>;

const MESSAGES = 150;

test.before(async (t) => {
  const [home, cabin] = await Promise.allSettled([startHearth({ federated: true }), startHearth({ federated: true })]);
  if (home.status === 'rejected' || cabin.status === 'rejected') {
    if (home.status === 'fulfilled') await home.value.stop();
    if (cabin.status === 'fulfilled') await cabin.value.stop();
    throw home.status === 'rejected' ? home.reason : (cabin as PromiseRejectedResult).reason;
  }
  t.context = { home: home.value, cabin: cabin.value };
  setDiagnostics(() => `--- home ---\n${home.value.output().slice(-3000)}\n--- cabin ---\n${cabin.value.output().slice(-3000)}`);
});

test.after.always(async (t) => {
  await Promise.all([t.context.home?.stop(), t.context.cabin?.stop()]);
});

test.serial('a large answer travels gzip-compressed to a peer accepting gzip, identity to one that does not, the same JSON either way', async (t) => {
  const { home, cabin } = t.context;
  const [carol, ann] = await Promise.all([registerUser(home.baseUrl, 'carol', 'carol-password-1'), registerUser(cabin.baseUrl, 'ann', 'ann-password-1')]);
  const c: Side = { base: home.baseUrl, token: carol.accessToken, userId: carol.userId };
  const a: Side = { base: cabin.baseUrl, token: ann.accessToken, userId: ann.userId };
  const roomId = (await call(c, 'POST', '/_matrix/client/v3/createRoom', { preset: 'public_chat', room_version: '11', name: 'Big room' })).room_id as string;
  // The join's send_join answer (state and auth chain, several KiB) comes back through cabin's client, gzip.
  await call(a, 'POST', `/_matrix/client/v3/join/${encodeURIComponent(roomId)}?server_name=${encodeURIComponent(home.serverName)}`, {});
  await eventually('ann joined on home', async () => {
    const state = await call(c, 'GET', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/state/m.room.member/${encodeURIComponent(ann.userId)}`);
    return state.membership === 'join' ? true : undefined;
  });
  let last = '';
  for (let i = 0; i < MESSAGES; i++) last = await sendText(home.baseUrl, carol.accessToken, roomId, `gz${i}`, `message ${i}: the boiler reads 61 degrees in the hall`);

  const backfill = `/_matrix/federation/v1/backfill/${encodeURIComponent(roomId)}?v=${encodeURIComponent(last)}&limit=100`;
  const zipped = await signedFederationGet(cabin, home, backfill, { 'Accept-Encoding': 'gzip' });
  t.is(zipped.status, 200, zipped.raw.toString('latin1').slice(0, 300));
  t.is(zipped.headers['content-encoding'], 'gzip');
  t.is(zipped.headers.vary, 'Accept-Encoding');
  const decoded = JSON.parse(gunzipSync(zipped.raw).toString('utf8'));
  t.is(decoded.pdus.length, 100);
  t.true(decoded.pdus.some((p: { event_id?: string; content: { body?: string } }) => p.content.body === `message ${MESSAGES - 1}: the boiler reads 61 degrees in the hall`));

  const plain = await signedFederationGet(cabin, home, backfill, {});
  t.is(plain.status, 200);
  t.is(plain.headers['content-encoding'], undefined);
  t.is(plain.headers.vary, 'Accept-Encoding');
  const plainJson = JSON.parse(plain.raw.toString('utf8'));
  // Same events (backfill's `origin_server_ts` of the transaction is the answer's own time).
  t.deepEqual(plainJson.pdus, decoded.pdus);
  t.true(zipped.raw.length * 3 < plain.raw.length, `${zipped.raw.length} bytes gzip for ${plain.raw.length} identity`);
  t.log(`backfill of 100 events: ${plain.raw.length} bytes identity, ${zipped.raw.length} bytes gzip`);

  const refusing = await signedFederationGet(cabin, home, backfill, { 'Accept-Encoding': 'gzip;q=0, identity' });
  t.is(refusing.headers['content-encoding'], undefined);
  t.deepEqual(JSON.parse(refusing.raw.toString('utf8')).pdus, decoded.pdus);

  // Cabin's own client (Accept-Encoding: gzip) decodes the same answers transparently, whole and streamed.
  const key = loadOrCreateKeyring(cabin.dataDir, cabin.serverName).current;
  const client = new FederationClient({ serverName: cabin.serverName, signingKey: () => key, resolver: new ServerResolver(systemResolverPorts({ verifyTls: false })), verifyTls: false });
  t.teardown(() => client.close());
  const viaClient = (await client.get(home.serverName, `/_matrix/federation/v1/backfill/${encodeURIComponent(roomId)}`, { v: last, limit: '100' })) as { pdus: unknown[] };
  t.deepEqual(viaClient.pdus, decoded.pdus);
  const statePath = `/_matrix/federation/v1/state/${encodeURIComponent(roomId)}`;
  const rawState = await signedFederationGet(cabin, home, `${statePath}?event_id=${encodeURIComponent(last)}`, { 'Accept-Encoding': 'gzip' });
  t.is(rawState.headers['content-encoding'], 'gzip');
  const stream = await client.stream({ method: 'GET', destination: home.serverName, path: statePath, query: { event_id: last } });
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  // The same events (their order in the lists is not part of the answer's meaning).
  const byId = (answer: { pdus: { event_id?: string; type: string; state_key?: string }[]; auth_chain: unknown[] }) => ({
    pdus: answer.pdus.map((p) => JSON.stringify(p)).sort(),
    auth_chain: answer.auth_chain.map((p) => JSON.stringify(p)).sort(),
  });
  const streamedState = byId(JSON.parse(Buffer.concat(chunks).toString('utf8')));
  t.deepEqual(streamedState, byId(JSON.parse(gunzipSync(rawState.raw).toString('utf8'))));
  t.true(streamedState.pdus.length >= 6, `${streamedState.pdus.length} state events`);

  // Small answers are not compressed.
  const version = await signedFederationGet(cabin, home, '/_matrix/federation/v1/version', { 'Accept-Encoding': 'gzip' });
  t.is(version.headers['content-encoding'], undefined);
  t.truthy(JSON.parse(version.raw.toString('utf8')).server);
});
