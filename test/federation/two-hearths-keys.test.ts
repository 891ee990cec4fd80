/**
 * Two Hearth gateways as real processes, each with its TLS federation listener: each fetches the
 * other's keys (through its notary endpoint), and a request signed with one gateway's key passes the
 * other's X-Matrix guard on a real endpoint (`query/profile`), the verifier fetching the signer's key
 * from the signer's running listener; unsigned, misaddressed and mis-signed requests are refused.
 */
import anyTest, { type TestFn } from 'ava';
import { encodeUnpaddedBase64 } from '../../src/core/base64.js';
import { generateSigningKey, verifyJsonSignature } from '../../src/core/signing.js';
import { loadOrCreateKeyring } from '../../src/federation/keys/key-files.js';
import { FederationClient, FederationRequestError, systemResolverPorts } from '../../src/federation/transport/client.js';
import { ServerResolver } from '../../src/federation/transport/resolver.js';
import { signRequest } from '../../src/federation/transport/x-matrix.js';
import { registerUser, request } from '../integration/helpers/http.js';
import { startHearth, type HearthServer } from '../integration/helpers/server.js';
import { getInsecureTls } from '../integration/helpers/synapse.js';
import { request as httpsRequest } from 'node:https';

const test = anyTest as TestFn<{ a: HearthServer; b: HearthServer }>;

test.before(async (t) => {
  const [a, b] = await Promise.allSettled([startHearth({ federated: true }), startHearth({ federated: true })]);
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

const fedUrl = (h: HearthServer) => `https://127.0.0.1:${h.federationPort}`;

/** A client signing as `server` with its own key (read from its data directory, as the gateway does). */
function clientAs(server: HearthServer, signingKey = loadOrCreateKeyring(server.dataDir, server.serverName).current): FederationClient {
  return new FederationClient({ serverName: server.serverName, signingKey: () => signingKey, resolver: new ServerResolver(systemResolverPorts({ verifyTls: false })), verifyTls: false });
}

function rawGet(h: HearthServer, path: string, authorization?: string): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(`${fedUrl(h)}${path}`, { rejectUnauthorized: false, headers: authorization ? { Authorization: authorization } : {} }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
    });
    req.on('error', reject);
    req.end();
  });
}

test.serial('each gateway fetches the other\'s keys over TLS', async (t) => {
  const { a, b } = t.context;
  for (const [notary, subject] of [[a, b], [b, a]] as const) {
    const own = await getInsecureTls(`${fedUrl(subject)}/_matrix/key/v2/server`);
    t.is(own.status, 200, own.text);
    const relayed = await getInsecureTls(`${fedUrl(notary)}/_matrix/key/v2/query/${encodeURIComponent(subject.serverName)}`);
    t.is(relayed.status, 200, relayed.text);
    t.is(relayed.body.server_keys.length, 1, `${relayed.text}\n${notary.output()}`);
    const set = relayed.body.server_keys[0];
    t.deepEqual(set.verify_keys, own.body.verify_keys);
    const key = loadOrCreateKeyring(subject.dataDir, subject.serverName).current;
    t.deepEqual(set.verify_keys, { [key.keyId]: { key: encodeUnpaddedBase64(key.publicKey) } });
    t.true(verifyJsonSignature(set, subject.serverName, key.keyId, key.publicKey));
    const notaryKey = loadOrCreateKeyring(notary.dataDir, notary.serverName).current;
    t.true(verifyJsonSignature(set, notary.serverName, notaryKey.keyId, notaryKey.publicKey));
  }
});

test.serial('a request signed with one gateway\'s key passes the other\'s guard; forged, misaddressed and unsigned ones do not', async (t) => {
  const { a, b } = t.context;
  const bob = await registerUser(b.baseUrl, 'bob', 'bob-password-1');
  const named = await request(b.baseUrl, 'PUT', `/_matrix/client/v3/profile/${encodeURIComponent(bob.userId)}/displayname`, { token: bob.accessToken, json: { displayname: 'Bob B' } });
  t.is(named.status, 200, named.text);

  const asA = clientAs(a);
  t.teardown(() => asA.close());
  t.deepEqual(await asA.get(b.serverName, '/_matrix/federation/v1/query/profile', { user_id: bob.userId }), { displayname: 'Bob B' });
  t.deepEqual(await asA.get(b.serverName, '/_matrix/federation/v1/query/profile', { user_id: bob.userId, field: 'displayname' }), { displayname: 'Bob B' });
  const noAvatar = await t.throwsAsync(asA.get(b.serverName, '/_matrix/federation/v1/query/profile', { user_id: bob.userId, field: 'avatar_url' }));
  t.like(noAvatar as FederationRequestError, { status: 404, errcode: 'M_NOT_FOUND' });

  const forgedClient = clientAs(a, { ...generateSigningKey(), keyId: loadOrCreateKeyring(a.dataDir, a.serverName).current.keyId });
  t.teardown(() => forgedClient.close());
  const forged = await t.throwsAsync(forgedClient.get(b.serverName, '/_matrix/federation/v1/query/profile', { user_id: bob.userId }));
  t.like(forged as FederationRequestError, { status: 401, errcode: 'M_UNAUTHORIZED' });

  const path = `/_matrix/federation/v1/query/profile?user_id=${encodeURIComponent(bob.userId)}`;
  const unsigned = await rawGet(b, path);
  t.deepEqual([unsigned.status, unsigned.body.errcode], [401, 'M_UNAUTHORIZED']);
  const aKey = loadOrCreateKeyring(a.dataDir, a.serverName).current;
  const misaddressed = await rawGet(b, path, signRequest({ method: 'GET', uri: path, origin: a.serverName, destination: 'elsewhere.example' }, aKey));
  t.deepEqual([misaddressed.status, misaddressed.body.errcode], [401, 'M_UNAUTHORIZED']);
  const rightlyAddressed = await rawGet(b, path, signRequest({ method: 'GET', uri: path, origin: a.serverName, destination: b.serverName }, aKey));
  t.deepEqual(rightlyAddressed, { status: 200, body: { displayname: 'Bob B' } });
});

test.serial('publicRooms and hierarchy over federation: rooms that do not federate are never listed or described; bad ids, unknown rooms and unsigned requests are refused', async (t) => {
  const { a, b } = t.context;
  const carol = await registerUser(b.baseUrl, 'carol', 'carol-password-1');
  const create = async (body: object) => {
    const res = await request(b.baseUrl, 'POST', '/_matrix/client/v3/createRoom', { token: carol.accessToken, json: body });
    t.is(res.status, 200, res.text);
    return res.body.room_id as string;
  };
  const open = await create({ preset: 'public_chat', visibility: 'public', name: 'Open room' });
  const home = await create({ preset: 'public_chat', visibility: 'public', name: 'Stays home', creation_content: { 'm.federate': false } });
  const space = await create({ preset: 'public_chat', name: 'Space', creation_content: { type: 'm.space' } });
  for (const child of [open, home]) {
    const res = await request(b.baseUrl, 'PUT', `/_matrix/client/v3/rooms/${encodeURIComponent(space)}/state/m.space.child/${encodeURIComponent(child)}`, { token: carol.accessToken, json: { via: [b.serverName] } });
    t.is(res.status, 200, res.text);
  }

  const asA = clientAs(a);
  t.teardown(() => asA.close());
  const listed = (await asA.get(b.serverName, '/_matrix/federation/v1/publicRooms')) as { chunk: { room_id: string; name?: string }[] };
  t.deepEqual(listed.chunk.map((r) => r.room_id), [open]);
  const tree = (await asA.get(b.serverName, `/_matrix/federation/v1/hierarchy/${encodeURIComponent(space)}`)) as { room: { room_id: string }; children: { room_id: string }[]; inaccessible_children: string[] };
  t.is(tree.room.room_id, space);
  t.deepEqual(tree.children.map((c) => c.room_id), [open]);
  t.deepEqual(tree.inaccessible_children, [home]);
  const stayed = await t.throwsAsync(asA.get(b.serverName, `/_matrix/federation/v1/hierarchy/${encodeURIComponent(home)}`));
  t.like(stayed as FederationRequestError, { status: 403, errcode: 'M_FORBIDDEN' });
  const unknown = await t.throwsAsync(asA.get(b.serverName, `/_matrix/federation/v1/hierarchy/${encodeURIComponent(`!nowhere:${b.serverName}`)}`));
  t.like(unknown as FederationRequestError, { status: 404, errcode: 'M_NOT_FOUND' });
  const nul = await t.throwsAsync(asA.get(b.serverName, `/_matrix/federation/v1/hierarchy/${encodeURIComponent('!a\u0000b:x')}`));
  t.like(nul as FederationRequestError, { status: 400, errcode: 'M_INVALID_PARAM' });
  const unsigned = await rawGet(b, '/_matrix/federation/v1/publicRooms');
  t.deepEqual([unsigned.status, unsigned.body.errcode], [401, 'M_UNAUTHORIZED']);
});
