import test from 'ava';
import { encodeUnpaddedBase64 } from '../../src/core/base64.js';
import { generateSigningKey, signJson } from '../../src/core/signing.js';
import type { JsonObject, SigningKey } from '../../src/core/types.js';
import { checkKeyResponse, isKeyValidAt, MAX_KEY_VALIDITY_MS } from '../../src/federation/keys/key-validity.js';
import { ServerKeyring } from '../../src/federation/keys/keyring.js';
import { MIN_REFETCH_MS, RemoteKeyService } from '../../src/federation/keys/remote-keys.js';
import type { FederationRequestOptions } from '../../src/federation/transport/client.js';
import type { ServerKeyRecord, StoredKeyResponse } from '../../src/storage/server-keys.js';

const DAY = 24 * 3600 * 1000;
const T0 = 1_700_000_000_000;

function keySet(serverName: string, key: SigningKey, opts: { validUntil?: number; old?: Record<string, { key: string; expired_ts: number }>; extra?: JsonObject } = {}): JsonObject {
  return signJson(
    {
      server_name: serverName,
      verify_keys: { [key.keyId]: { key: encodeUnpaddedBase64(key.publicKey) } },
      old_verify_keys: opts.old ?? {},
      valid_until_ts: opts.validUntil ?? T0 + DAY,
      ...opts.extra,
    },
    serverName,
    key,
  ) as unknown as JsonObject;
}

// ---- checkKeyResponse

test('a self-signed key set for the server asked about is accepted with its keys', (t) => {
  const key = generateSigningKey();
  const check = checkKeyResponse('a.example', keySet('a.example', key, { old: { 'ed25519:old': { key: encodeUnpaddedBase64(generateSigningKey().publicKey), expired_ts: T0 - 5 } } }), T0);
  if (!check.ok) return t.fail(check.reason);
  t.deepEqual(check.keys.get(key.keyId), { key: encodeUnpaddedBase64(key.publicKey), validUntilTs: T0 + DAY, fetchedTs: T0 });
  t.is(check.keys.get('ed25519:old')?.expiredTs, T0 - 5);
});

test('key sets are refused when they are for another server, unsigned, signed by an unlisted key, tampered or malformed', (t) => {
  const key = generateSigningKey();
  const good = keySet('a.example', key);
  const refused: Array<[string, unknown]> = [
    ['another server', keySet('b.example', key)],
    ['unsigned', { ...good, signatures: {} }],
    ['signed by a key it does not list', signJson({ ...keySet('a.example', key), signatures: undefined }, 'a.example', generateSigningKey())],
    ['tampered after signing', { ...good, valid_until_ts: T0 + 100 * DAY }],
    ['no valid_until_ts', keySet('a.example', key, { extra: { valid_until_ts: 'soon' } })],
    ['a key that is not 32 bytes', signJson({ server_name: 'a.example', verify_keys: { [key.keyId]: { key: 'AAAA' } }, valid_until_ts: T0 }, 'a.example', key)],
    ['an old key without expired_ts', keySet('a.example', key, { old: { 'ed25519:x': { key: encodeUnpaddedBase64(key.publicKey) } as never } })],
    ['not an object', [good]],
  ];
  for (const [what, response] of refused) t.false(checkKeyResponse('a.example', response, T0).ok, what);
});

// ---- isKeyValidAt

test('validity: valid_until_ts capped at 7 days from the fetch (v5+), ignored for v1-4; old keys until expired_ts', (t) => {
  const current = { key: 'k', validUntilTs: T0 + 30 * DAY, fetchedTs: T0 };
  t.true(isKeyValidAt(current, T0 + MAX_KEY_VALIDITY_MS, true));
  t.false(isKeyValidAt(current, T0 + MAX_KEY_VALIDITY_MS + 1, true), 'the 7-day cap');
  t.true(isKeyValidAt(current, T0 + 365 * DAY, false), 'room versions 1-4 ignore valid_until_ts');
  const short = { key: 'k', validUntilTs: T0 + DAY, fetchedTs: T0 };
  t.true(isKeyValidAt(short, T0 + DAY, true));
  t.false(isKeyValidAt(short, T0 + DAY + 1, true), 'valid_until_ts itself when sooner');
  const old = { key: 'k', expiredTs: T0, fetchedTs: T0 + DAY };
  t.true(isKeyValidAt(old, T0, true));
  t.true(isKeyValidAt(old, T0 - DAY, false));
  t.false(isKeyValidAt(old, T0 + 1, true), 'signed after the key expired');
  t.false(isKeyValidAt(old, T0 + 1, false), 'in every room version');
});

// ---- RemoteKeyService

function memoryStore() {
  const keys = new Map<string, ServerKeyRecord>();
  const responses = new Map<string, StoredKeyResponse>();
  return {
    keys,
    responses,
    async getKey(server: string, keyId: string) {
      return keys.get(`${server}|${keyId}`);
    },
    async getResponse(server: string) {
      return responses.get(server);
    },
    async putKeySet(server: string, set: ReadonlyMap<string, ServerKeyRecord>, response: StoredKeyResponse) {
      for (const [id, r] of set) keys.set(`${server}|${id}`, r);
      responses.set(server, response);
    },
  };
}

function service(handler: (req: FederationRequestOptions) => Promise<unknown>, opts: { notaries?: Array<{ serverName: string; verifyKeys: Record<string, string> }> } = {}) {
  let now = T0;
  const requests: FederationRequestOptions[] = [];
  const store = memoryStore();
  const own = new ServerKeyring('me.example', generateSigningKey(), []);
  const keys = new RemoteKeyService({
    keyring: own,
    store,
    client: {
      request: (req) => {
        requests.push(req);
        return handler(req);
      },
    },
    trustedKeyServers: opts.notaries ?? [],
    now: () => now,
  });
  return { keys, requests, store, own, advance: (ms: number) => (now += ms) };
}

test('concurrent lookups of one server share one fetch; the key is then answered from memory', async (t) => {
  const key = generateSigningKey();
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const s = service(async () => {
    await gate;
    return keySet('a.example', key);
  });
  const lookups = Promise.all([1, 2, 3].map(() => s.keys.verifyKey('a.example', key.keyId, T0)));
  release();
  const results = await lookups;
  for (const r of results) t.deepEqual(r && Buffer.from(r), Buffer.from(key.publicKey));
  t.is(s.requests.length, 1);
  t.like(s.requests[0], { method: 'GET', destination: 'a.example', path: '/_matrix/key/v2/server' });
  await s.keys.verifyKey('a.example', key.keyId, T0 + 1000);
  t.is(s.requests.length, 1, 'cached');
  t.is(s.store.responses.get('a.example')?.response.server_name, 'a.example', 'stored for notary answers');
});

test('an unknown key id or an unreachable server is asked again only after MIN_REFETCH_MS', async (t) => {
  const key = generateSigningKey();
  const s = service(async () => keySet('a.example', key));
  t.is(await s.keys.verifyKey('a.example', 'ed25519:other', T0), undefined);
  t.is(await s.keys.verifyKey('a.example', 'ed25519:other2', T0), undefined);
  t.is(s.requests.length, 1);
  s.advance(MIN_REFETCH_MS);
  await s.keys.verifyKey('a.example', 'ed25519:other', T0);
  t.is(s.requests.length, 2);

  const down = service(async () => {
    throw new Error('ECONNREFUSED');
  });
  t.is(await down.keys.verifyKey('b.example', 'ed25519:x', T0), undefined);
  t.is(await down.keys.verifyKey('b.example', 'ed25519:x', T0), undefined);
  t.is(down.requests.length, 1);
});

test('a key set for the wrong server or badly signed is not stored', async (t) => {
  const key = generateSigningKey();
  const s = service(async () => keySet('evil.example', key));
  t.is(await s.keys.verifyKey('a.example', key.keyId, T0), undefined);
  t.is(s.store.keys.size, 0);
});

test('a stale key is refreshed for a later signature; a retired key is never fetched for', async (t) => {
  const key = generateSigningKey();
  let validUntil = T0 + DAY;
  const s = service(async () => keySet('a.example', key, { validUntil }));
  t.truthy(await s.keys.verifyKey('a.example', key.keyId, T0));
  s.advance(2 * DAY);
  validUntil = T0 + 5 * DAY;
  t.truthy(await s.keys.verifyKey('a.example', key.keyId, T0 + 2 * DAY), 'refetched: valid again');
  t.is(s.requests.length, 2);

  const oldKey = generateSigningKey();
  const r = service(async () => keySet('c.example', key, { old: { [oldKey.keyId]: { key: encodeUnpaddedBase64(oldKey.publicKey), expired_ts: T0 - DAY } } }));
  t.truthy(await r.keys.verifyKey('c.example', oldKey.keyId, T0 - 2 * DAY), 'an event from before the key expired');
  r.advance(MIN_REFETCH_MS);
  t.is(await r.keys.verifyKey('c.example', oldKey.keyId, T0), undefined, 'an event after it expired');
  t.is(r.requests.length, 1, 'no fetch can revive a retired key');
  t.is(await r.keys.requestKey('c.example', oldKey.keyId), undefined, 'old keys never authenticate requests');
});

test('through a notary: its key set is used only with the notary\'s valid signature; else the server itself is asked', async (t) => {
  const key = generateSigningKey();
  const notaryKey = generateSigningKey();
  const notaries = [{ serverName: 'notary.example', verifyKeys: { [notaryKey.keyId]: encodeUnpaddedBase64(notaryKey.publicKey) } }];
  const good = service(async (req) => {
    t.like(req, { method: 'POST', destination: 'notary.example', path: '/_matrix/key/v2/query' });
    t.deepEqual(req.body, { server_keys: { 'a.example': { [key.keyId]: { minimum_valid_until_ts: T0 } } } });
    return { server_keys: [signJson(keySet('a.example', key), 'notary.example', notaryKey)] };
  }, { notaries });
  t.truthy(await good.keys.verifyKey('a.example', key.keyId, T0));
  t.is(good.requests.length, 1);

  const forged = service(async (req) => {
    if (req.destination === 'notary.example') return { server_keys: [signJson(keySet('a.example', key), 'notary.example', generateSigningKey())] };
    throw new Error('ECONNREFUSED');
  }, { notaries });
  t.is(await forged.keys.verifyKey('a.example', key.keyId, T0), undefined);
  t.deepEqual(forged.requests.map((r) => r.destination), ['notary.example', 'a.example'], 'fell back to the server itself');
  t.is(forged.store.keys.size, 0);
});

test('as a notary: our own keys, a known server\'s set countersigned, nothing for the unknown', async (t) => {
  const key = generateSigningKey();
  const s = service(async (req) => (req.destination === 'a.example' ? keySet('a.example', key, { validUntil: T0 + DAY }) : Promise.reject(new Error('down'))));
  const mine = await s.keys.query('me.example', T0);
  t.is(mine[0]?.server_name, 'me.example');
  const theirs = await s.keys.query('a.example', T0);
  t.is(theirs.length, 1);
  const signatures = theirs[0]!.signatures as Record<string, Record<string, string>>;
  t.deepEqual(Object.keys(signatures).sort(), ['a.example', 'me.example']);
  t.deepEqual(await s.keys.query('nobody.example', T0), []);
  // Asked for a validity beyond what we hold: refetched (after the throttle), else the old set.
  s.advance(MIN_REFETCH_MS);
  const again = await s.keys.query('a.example', T0 + 10 * DAY);
  t.is(again.length, 1);
  t.is(s.requests.filter((r) => r.destination === 'a.example').length, 2);
});
