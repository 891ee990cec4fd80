/**
 * Keys and X-Matrix against a real Synapse (scripts/synapse-peer): Synapse fetches our
 * `/_matrix/key/v2/server` (through its own notary endpoint) and we fetch Synapse's (through ours);
 * Synapse's signed `query/profile` and `query/directory` requests pass our X-Matrix guard, and our
 * signed requests pass Synapse's.
 */
import anyTest, { type TestFn } from 'ava';
import { request as httpsRequest } from 'node:https';
import { generateSigningKey, verifyJsonSignature } from '../../src/core/signing.js';
import { loadOrCreateKeyring } from '../../src/federation/keys/key-files.js';
import { FederationClient, FederationRequestError, systemResolverPorts } from '../../src/federation/transport/client.js';
import { ServerResolver } from '../../src/federation/transport/resolver.js';
import { registerUser, request } from '../integration/helpers/http.js';
import { startHearth, type HearthServer } from '../integration/helpers/server.js';
import { getInsecureTls, startSynapse, type SynapsePeer } from '../integration/helpers/synapse.js';

const test = anyTest as TestFn<{ hearth: HearthServer; synapse: SynapsePeer }>;

test.before(async (t) => {
  const [hearth, synapse] = await Promise.allSettled([startHearth({ federated: true }), startSynapse()]);
  if (hearth.status === 'rejected' || synapse.status === 'rejected') {
    if (hearth.status === 'fulfilled') await hearth.value.stop();
    if (synapse.status === 'fulfilled') await synapse.value.stop();
    throw hearth.status === 'rejected' ? hearth.reason : (synapse as PromiseRejectedResult).reason;
  }
  t.context = { hearth: hearth.value, synapse: synapse.value };
});

test.after.always(async (t) => {
  await Promise.all([t.context.hearth?.stop(), t.context.synapse?.stop()]);
});

function postInsecureTls(url: string, body: unknown): Promise<{ status: number; body: any; text: string }> {
  return new Promise((done, fail) => {
    const req = httpsRequest(url, { method: 'POST', rejectUnauthorized: false, headers: { 'Content-Type': 'application/json' } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => done({ status: res.statusCode ?? 0, body: JSON.parse(text || 'null'), text }));
    });
    req.on('error', fail);
    req.end(JSON.stringify(body));
  });
}

const fedUrl = (h: HearthServer) => `https://127.0.0.1:${h.federationPort}`;

test.serial('Synapse fetches our keys: its notary endpoint relays our signed key set', async (t) => {
  const { hearth, synapse } = t.context;
  const ours = await getInsecureTls(`${fedUrl(hearth)}/_matrix/key/v2/server`);
  t.is(ours.status, 200, ours.text);
  const [keyId] = Object.keys(ours.body.verify_keys);
  const publicKey = Buffer.from(ours.body.verify_keys[keyId!].key, 'base64');

  // Named by key id, as servers ask notaries (Synapse's GET without key ids answers only from its cache).
  const relayed = await postInsecureTls(`${synapse.federationUrl}/_matrix/key/v2/query`, {
    server_keys: { [hearth.serverName]: { [keyId!]: { minimum_valid_until_ts: Date.now() } } },
  });
  t.is(relayed.status, 200, `${relayed.text}\n${synapse.log()}`);
  t.is(relayed.body.server_keys.length, 1, relayed.text);
  const set = relayed.body.server_keys[0];
  t.is(set.server_name, hearth.serverName);
  t.deepEqual(set.verify_keys, ours.body.verify_keys);
  t.true(verifyJsonSignature(set, hearth.serverName, keyId!, publicKey), 'our signature survives the relay');
  t.truthy(set.signatures[synapse.serverName], 'countersigned by Synapse');
});

test.serial('we fetch Synapse\'s keys: our notary endpoint relays its signed key set', async (t) => {
  const { hearth, synapse } = t.context;
  const theirs = await getInsecureTls(`${synapse.federationUrl}/_matrix/key/v2/server`);
  t.is(theirs.status, 200, theirs.text);
  const relayed = await getInsecureTls(`${fedUrl(hearth)}/_matrix/key/v2/query/${encodeURIComponent(synapse.serverName)}`);
  t.is(relayed.status, 200, `${relayed.text}\n${hearth.output()}`);
  t.is(relayed.body.server_keys.length, 1, `${relayed.text}\n${hearth.output()}`);
  const set = relayed.body.server_keys[0];
  t.is(set.server_name, synapse.serverName);
  t.deepEqual(set.verify_keys, theirs.body.verify_keys);
  const [keyId] = Object.keys(theirs.body.verify_keys);
  t.true(verifyJsonSignature(set, synapse.serverName, keyId!, Buffer.from(theirs.body.verify_keys[keyId!].key, 'base64')));
  t.truthy(set.signatures[hearth.serverName], 'countersigned by us');
});

test.serial('Synapse\'s signed query/profile and query/directory pass our X-Matrix guard', async (t) => {
  const { hearth, synapse } = t.context;
  const alice = await registerUser(hearth.baseUrl, 'alice', 'alice-password-1');
  const named = await request(hearth.baseUrl, 'PUT', `/_matrix/client/v3/profile/${encodeURIComponent(alice.userId)}/displayname`, {
    token: alice.accessToken,
    json: { displayname: 'Alice at home' },
  });
  t.is(named.status, 200, named.text);
  const created = await request(hearth.baseUrl, 'POST', '/_matrix/client/v3/createRoom', {
    token: alice.accessToken,
    json: { preset: 'public_chat', room_alias_name: 'lobby', name: 'Lobby' },
  });
  t.is(created.status, 200, created.text);

  const bob = await synapse.registerUser('bob');
  const profile = await request(synapse.clientUrl, 'GET', `/_matrix/client/v3/profile/${encodeURIComponent(alice.userId)}`, { token: bob.accessToken });
  t.is(profile.status, 200, `${profile.text}\n${synapse.log()}\n${hearth.output()}`);
  t.is(profile.body.displayname, 'Alice at home');
  const missing = await request(synapse.clientUrl, 'GET', `/_matrix/client/v3/profile/${encodeURIComponent(`@nobody:${hearth.serverName}`)}`, { token: bob.accessToken });
  t.is(missing.status, 404, missing.text);

  const alias = `#lobby:${hearth.serverName}`;
  const directory = await request(synapse.clientUrl, 'GET', `/_matrix/client/v3/directory/room/${encodeURIComponent(alias)}`, { token: bob.accessToken });
  t.is(directory.status, 200, `${directory.text}\n${synapse.log()}`);
  t.deepEqual(directory.body, { room_id: created.body.room_id, servers: [hearth.serverName] });
});

test.serial('our signed requests pass Synapse\'s X-Matrix check; a wrong key does not', async (t) => {
  const { hearth, synapse } = t.context;
  // Our gateway's own key, read from its data directory, signs as the gateway would.
  const keyring = loadOrCreateKeyring(hearth.dataDir, hearth.serverName);
  const client = (signingKey = keyring.current) =>
    new FederationClient({ serverName: hearth.serverName, signingKey: () => signingKey, resolver: new ServerResolver(systemResolverPorts({ verifyTls: false })), verifyTls: false });
  const carol = await synapse.registerUser('carol');
  const signed = client();
  t.teardown(() => signed.close());
  const profile = await signed.get(synapse.serverName, '/_matrix/federation/v1/query/profile', { user_id: carol.userId });
  t.deepEqual(profile, { displayname: 'carol' });

  const forged = client({ ...generateSigningKey(), keyId: keyring.current.keyId });
  t.teardown(() => forged.close());
  const refused = await t.throwsAsync(forged.get(synapse.serverName, '/_matrix/federation/v1/query/profile', { user_id: carol.userId }));
  t.true(refused instanceof FederationRequestError);
  t.is((refused as FederationRequestError).status, 401);
});
