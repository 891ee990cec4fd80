/**
 * Two federation surfaces in one process (each with its own data directory, database, keyring and
 * TLS listener on a free loopback port, named `127.0.0.1:<port>` like Synapse test peers): one
 * fetches the other's keys over TLS, directly and as a notary, and makes X-Matrix-signed requests
 * that the other verifies by fetching the sender's keys in turn; unsigned, wrongly addressed and
 * mis-signed requests get 401 M_UNAUTHORIZED.
 */
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { Readable } from 'node:stream';
import { connect as tlsConnect } from 'node:tls';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { assembleFederation, type FederationSurface } from '../../src/app/federation.js';
import { defaultConfig, type HearthConfig } from '../../src/config/config.js';
import { encodeUnpaddedBase64 } from '../../src/core/base64.js';
import { generateSigningKey, verifyJsonSignature } from '../../src/core/signing.js';
import { loadOrCreateKeyring } from '../../src/federation/keys/key-files.js';
import { FederationClient, FederationRequestError, systemResolverPorts } from '../../src/federation/transport/client.js';
import { ServerResolver } from '../../src/federation/transport/resolver.js';
import { formatXMatrixHeader, parseXMatrixHeader, signRequest } from '../../src/federation/transport/x-matrix.js';
import { Database } from '../../src/storage/db.js';
import { freePort } from './helpers/server.js';

interface Peer {
  name: string;
  port: number;
  surface: FederationSurface;
  contacts: string[];
  close(): Promise<void>;
}

const log = pino({ level: 'silent' });

async function startPeer(federation: Partial<HearthConfig['federation']> = {}, dataDir = mkdtempSync(join(tmpdir(), 'hearth-fed-'))): Promise<Peer> {
  const port = await freePort();
  const name = `127.0.0.1:${port}`;
  const base = defaultConfig(dataDir);
  const config: HearthConfig = { ...base, serverName: name, federation: { ...base.federation, bindAddress: '127.0.0.1', port, verifyTls: false, ipRangeAllowlist: ['127.0.0.1'], ...federation } };
  const db = await Database.open(join(dataDir, 'db'), config.storage);
  const keyring = loadOrCreateKeyring(dataDir, name);
  const surface = await assembleFederation({ config, log, db, keyring });
  const contacts: string[] = [];
  surface.onServerContact((origin) => contacts.push(origin));
  // Guarded routes standing for the pipeline's: they answer with what the guard established.
  surface.app.get('/_matrix/federation/v1/test/whoami', async (req) => ({ origin: await surface.auth.requireServer(req), query: req.query }));
  surface.app.put('/_matrix/federation/v1/test/echo/:id', async (req) => ({ origin: await surface.auth.requireServer(req), body: req.body }));
  surface.app.get('/_matrix/federation/v1/test/big', async (req) => {
    await surface.auth.requireServer(req);
    return { items: Array.from({ length: 5000 }, (_, i) => ({ i, pad: 'x'.repeat(50) })) };
  });
  // The same, chunked (no Content-Length): the size is known only as it arrives.
  surface.app.get('/_matrix/federation/v1/test/big-chunked', async (req, reply) => {
    await surface.auth.requireServer(req);
    const text = JSON.stringify({ items: Array.from({ length: 5000 }, (_, i) => ({ i, pad: 'x'.repeat(50) })) });
    reply.header('content-type', 'application/json');
    return reply.send(Readable.from([text.slice(0, 1000), text.slice(1000)]));
  });
  await surface.listen();
  return {
    name,
    port,
    surface,
    contacts,
    async close() {
      await surface.close();
      await db.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** A raw HTTPS request to a peer (certificate not checked: it is self-signed). */
function raw(port: number, method: string, path: string, opts: { authorization?: string; body?: unknown } = {}): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const payload = opts.body === undefined ? undefined : JSON.stringify(opts.body);
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        rejectUnauthorized: false,
        headers: { ...(opts.authorization ? { Authorization: opts.authorization } : {}), ...(payload ? { 'Content-Type': 'application/json' } : {}) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString('utf8') || 'null') }));
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

let a: Peer;
let b: Peer;

test.before(async () => {
  [a, b] = await Promise.all([startPeer(), startPeer()]);
});

test.after.always(async () => {
  await Promise.all([a?.close(), b?.close()]);
});

test.serial('GET /_matrix/key/v2/server over TLS: our key, self-signed, valid for a week', async (t) => {
  const { status, body } = await raw(b.port, 'GET', '/_matrix/key/v2/server');
  t.is(status, 200);
  const key = b.surface.keyring.current;
  t.is(body.server_name, b.name);
  t.deepEqual(body.verify_keys, { [key.keyId]: { key: encodeUnpaddedBase64(key.publicKey) } });
  t.deepEqual(body.old_verify_keys, {});
  t.true(body.valid_until_ts > Date.now() + 6 * 24 * 3600 * 1000);
  t.true(verifyJsonSignature(body, b.name, key.keyId, key.publicKey));
});

test.serial('one server fetches the other\'s keys over TLS and judges them valid now', async (t) => {
  const key = b.surface.keyring.current;
  const fetched = await a.surface.keys.verifyKey(b.name, key.keyId, Date.now());
  t.deepEqual(fetched && Buffer.from(fetched), Buffer.from(key.publicKey));
  // An unknown key id of a known server is no key (and does not fetch again straight away).
  t.is(await a.surface.keys.verifyKey(b.name, 'ed25519:nope', Date.now()), undefined);
  // Past the 7-day cap from the fetch, the key no longer verifies events of room versions 5+,
  // but still does under versions 1-4, which ignore valid_until_ts.
  const later = Date.now() + 8 * 24 * 3600 * 1000;
  t.is(await a.surface.keys.verifyKey(b.name, key.keyId, later, true), undefined);
  t.truthy(await a.surface.keys.verifyKey(b.name, key.keyId, later, false));
});

test.serial('an X-Matrix-signed GET and PUT: the receiver fetches the sender\'s key, verifies, and names the origin', async (t) => {
  const got = (await a.surface.client.get(b.name, '/_matrix/federation/v1/test/whoami', { x: 'a b', y: ['1', '2'] })) as { origin: string; query: unknown };
  t.deepEqual(got, { origin: a.name, query: { x: 'a b', y: ['1', '2'] } });
  const put = await a.surface.client.put(b.name, `/_matrix/federation/v1/test/echo/${encodeURIComponent('$ev:x')}`, { pdus: [{ n: 1, s: 'é' }] });
  t.deepEqual(put, { origin: a.name, body: { pdus: [{ n: 1, s: 'é' }] } });
  t.true(b.contacts.includes(a.name), 'the receiver was told the sender is up');
});

test.serial('the notary endpoints answer from the cache and for themselves, countersigned', async (t) => {
  const bKey = b.surface.keyring.current;
  const aKey = a.surface.keyring.current;
  const single = await raw(a.port, 'GET', `/_matrix/key/v2/query/${encodeURIComponent(b.name)}?minimum_valid_until_ts=0`);
  t.is(single.status, 200);
  t.is(single.body.server_keys.length, 1);
  const relayed = single.body.server_keys[0];
  t.is(relayed.server_name, b.name);
  t.true(verifyJsonSignature(relayed, b.name, bKey.keyId, bKey.publicKey), 'still signed by the server');
  t.true(verifyJsonSignature(relayed, a.name, aKey.keyId, aKey.publicKey), 'and by the notary');

  const bulk = await raw(a.port, 'POST', '/_matrix/key/v2/query', { body: { server_keys: { [b.name]: {}, [a.name]: { [aKey.keyId]: { minimum_valid_until_ts: 0 } } } } });
  t.is(bulk.status, 200);
  t.deepEqual(bulk.body.server_keys.map((k: { server_name: string }) => k.server_name).sort(), [a.name, b.name].sort());
  // A server that cannot be reached and was never seen: no keys, not an error.
  const closed = await freePort();
  const none = await raw(a.port, 'GET', `/_matrix/key/v2/query/127.0.0.1:${closed}`);
  t.deepEqual(none, { status: 200, body: { server_keys: [] } });
  const bad = await raw(a.port, 'POST', '/_matrix/key/v2/query', { body: { server_keys: [] } });
  t.is(bad.status, 400);
  t.is(bad.body.errcode, 'M_INVALID_PARAM');
});

test.serial('refused: unsigned, wrong destination, mis-signed, unknown key, our own name, malformed -> 401 M_UNAUTHORIZED', async (t) => {
  const path = '/_matrix/federation/v1/test/echo/1';
  const body = { hello: 'world' };
  // The sender's key is a.keyring's; b knows it from the previous test or fetches it.
  const key = a.surface.keyring.current;
  const signed = (over: { method?: string; uri?: string; destination?: string; content?: unknown; origin?: string }, signingKey = key) =>
    signRequest({ method: over.method ?? 'PUT', uri: over.uri ?? path, origin: over.origin ?? a.name, destination: over.destination ?? b.name, content: 'content' in over ? over.content : body }, signingKey);

  const ok = await raw(b.port, 'PUT', path, { authorization: signed({}), body });
  t.deepEqual(ok, { status: 200, body: { origin: a.name, body } }, 'the control request passes');

  const parsedOk = parseXMatrixHeader(signed({}));
  if (!parsedOk.ok) throw new Error('unreachable');
  const cases: Array<[string, string | undefined]> = [
    ['unsigned', undefined],
    ['bearer token', 'Bearer abc'],
    ['wrong destination', signed({ destination: 'elsewhere.example' })],
    ['signed for another body', signed({ content: { hello: 'mars' } })],
    ['signed for another path', signed({ uri: '/_matrix/federation/v1/test/echo/2' })],
    ['signed for another method', signed({ method: 'POST' })],
    ['signed by another key under the right id', signed({}, { ...generateSigningKey(), keyId: key.keyId })],
    ['unknown key id', formatXMatrixHeader({ ...parsedOk.auth, key: 'ed25519:unknown' })],
    ['claims to be the receiver', signed({ origin: b.name })],
    ['malformed header', 'X-Matrix origin=,key=,sig='],
    ['sig not base64', formatXMatrixHeader({ ...parsedOk.auth, sig: '!!!' })],
  ];
  const contactsBefore = b.contacts.length;
  for (const [what, authorization] of cases) {
    const res = await raw(b.port, 'PUT', path, { ...(authorization ? { authorization } : {}), body });
    t.is(res.status, 401, what);
    t.is(res.body.errcode, 'M_UNAUTHORIZED', what);
    t.is(typeof res.body.error, 'string', what);
  }
  t.is(b.contacts.length, contactsBefore, 'refused requests are no contact');
});

test.serial('the client reports refusals and unreachable servers as typed errors', async (t) => {
  const refused = await t.throwsAsync(a.surface.client.get(b.name, '/_matrix/federation/v1/nothing-here'));
  t.true(refused instanceof FederationRequestError);
  t.like(refused as FederationRequestError, { kind: 'http', status: 404, errcode: 'M_UNRECOGNIZED', destination: b.name });
  const closed = `127.0.0.1:${await freePort()}`;
  const down = await t.throwsAsync(a.surface.client.get(closed, '/_matrix/federation/v1/version'));
  t.like(down as FederationRequestError, { kind: 'network', destination: closed });
  // With certificate checks on (the default), a self-signed peer is refused before any request.
  const checking = new FederationClient({
    serverName: a.name,
    signingKey: () => a.surface.keyring.current,
    resolver: new ServerResolver(systemResolverPorts({ verifyTls: true })),
    verifyTls: true,
  });
  t.teardown(() => checking.close());
  const untrusted = await t.throwsAsync(checking.get(b.name, '/_matrix/federation/v1/version'));
  t.like(untrusted as FederationRequestError, { kind: 'network', destination: b.name });
  t.regex(untrusted!.message, /certificate/);
});

test('plain HTTP behind a reverse proxy (federation.tls: false): the same API without TLS', async (t) => {
  const plain = await startPeer({ tls: false });
  t.teardown(() => plain.close());
  const res = await fetch(`http://127.0.0.1:${plain.port}/_matrix/key/v2/server`);
  t.is(res.status, 200);
  t.is(((await res.json()) as { server_name: string }).server_name, plain.name);
  const refused = await fetch(`http://127.0.0.1:${plain.port}/_matrix/federation/v1/test/whoami`);
  t.is(refused.status, 401);
  t.is(((await refused.json()) as { errcode: string }).errcode, 'M_UNAUTHORIZED');
});

test('a certificate given in hearth.yaml is the one served', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'hearth-fed-'));
  const cert = join(dataDir, 'given.crt');
  const key = join(dataDir, 'given.key');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=given.example'], { stdio: 'ignore' });
  const peer = await startPeer({ tlsCertificatePath: cert, tlsPrivateKeyPath: key }, dataDir);
  t.teardown(() => peer.close());
  const served = await new Promise<string>((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port: peer.port, rejectUnauthorized: false }, () => {
      resolve(socket.getPeerX509Certificate()?.fingerprint256 ?? '');
      socket.end();
    });
    socket.on('error', reject);
  });
  t.is(served, new X509Certificate(readFileSync(cert)).fingerprint256);
  t.false(existsSync(join(dataDir, 'federation-tls.crt')), 'nothing generated');
});

test('a federation port in use fails the start naming federation.port', async (t) => {
  const blocker = createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  t.teardown(() => blocker.close());
  const port = (blocker.address() as { port: number }).port;
  const dataDir = mkdtempSync(join(tmpdir(), 'hearth-fed-'));
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }));
  const base = defaultConfig(dataDir);
  const config: HearthConfig = { ...base, serverName: `127.0.0.1:${port}`, federation: { ...base.federation, bindAddress: '127.0.0.1', port } };
  const db = await Database.open(join(dataDir, 'db'), config.storage);
  t.teardown(() => db.close());
  const surface = await assembleFederation({ config, log, db, keyring: loadOrCreateKeyring(dataDir, config.serverName) });
  const err = await t.throwsAsync(surface.listen());
  t.regex(err!.message, new RegExp(`port ${port} \\(the federation API.*federation\\.port.*HEARTH_FEDERATION_PORT`));
  await surface.close();
});

test('private addresses are refused unless allowed: an IP literal, and a hostname resolving to one', async (t) => {
  const guarded = await startPeer({ ipRangeAllowlist: [] });
  t.teardown(() => guarded.close());
  const literal = await t.throwsAsync(guarded.surface.client.get(a.name, '/_matrix/federation/v1/version'));
  t.like(literal as FederationRequestError, { kind: 'network', destination: a.name });
  t.regex(literal!.message, /ip_range_allowlist/);
  const named = `localhost:${a.port}`;
  const viaDns = await t.throwsAsync(guarded.surface.client.get(named, '/_matrix/federation/v1/version'));
  t.like(viaDns as FederationRequestError, { kind: 'network', destination: named });
  t.regex(viaDns!.message, /ip_range_allowlist/);
  // Its key lookups are refused the same way: no key, no request sent.
  t.is(await guarded.surface.keys.verifyKey(a.name, a.surface.keyring.current.keyId, Date.now()), undefined);
  // The same peer reaches 127.0.0.1 once allowed (the other tests' peers).
  t.like(await b.surface.client.get(a.name, '/_matrix/federation/v1/version'), { server: { name: 'Hearth' } });
});

test('stream: a big answer arrives as bytes for an incremental parser, cut past its size limit', async (t) => {
  const read = async (stream: NodeJS.ReadableStream) => {
    const chunks: Buffer[] = [];
    for await (const chunk of stream) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  };
  const whole = await read(await a.surface.client.stream({ method: 'GET', destination: b.name, path: '/_matrix/federation/v1/test/big' }));
  const parsed = JSON.parse(whole.toString('utf8')) as { items: Array<{ i: number }> };
  t.is(parsed.items.length, 5000);
  t.is(parsed.items[4999]!.i, 4999);
  const chunked = await read(await a.surface.client.stream({ method: 'GET', destination: b.name, path: '/_matrix/federation/v1/test/big-chunked' }));
  t.deepEqual(JSON.parse(chunked.toString('utf8')), parsed);
  // Past the limit: refused at once when Content-Length says so, mid-stream otherwise. The answer
  // comes gzip-compressed (~330 KB of JSON in a few KB): the declared length is the compressed one.
  const declared = await t.throwsAsync(a.surface.client.stream({ method: 'GET', destination: b.name, path: '/_matrix/federation/v1/test/big', maxResponseBytes: 1000 }));
  t.like(declared as FederationRequestError, { kind: 'too-large', destination: b.name });
  t.regex(declared!.message, /limit 1000/);
  // Under the limit on the wire, past it decoded: cut as the decoded bytes pass it.
  const inflated = await a.surface.client.stream({ method: 'GET', destination: b.name, path: '/_matrix/federation/v1/test/big', maxResponseBytes: 100_000 });
  const inflatedCut = await t.throwsAsync(read(inflated));
  t.like(inflatedCut as FederationRequestError, { kind: 'too-large', destination: b.name });
  const limited = await a.surface.client.stream({ method: 'GET', destination: b.name, path: '/_matrix/federation/v1/test/big-chunked', maxResponseBytes: 100_000 });
  const cut = await t.throwsAsync(read(limited));
  t.like(cut as FederationRequestError, { kind: 'too-large', destination: b.name });
  const missing = await t.throwsAsync(a.surface.client.stream({ method: 'GET', destination: b.name, path: '/_matrix/federation/v1/nothing' }));
  t.like(missing as FederationRequestError, { kind: 'http', status: 404, errcode: 'M_UNRECOGNIZED' });
  // A buffered request of the same answer past its limit is refused the same way.
  const buffered = await t.throwsAsync(a.surface.client.request({ method: 'GET', destination: b.name, path: '/_matrix/federation/v1/test/big', maxResponseBytes: 100_000 }));
  t.like(buffered as FederationRequestError, { kind: 'too-large' });
});
