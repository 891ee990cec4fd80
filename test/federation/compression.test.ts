/**
 * gzip on federation traffic (issue 12 "Thin uplinks"), in one process: the `Accept-Encoding`
 * parsing (RFC 9110 12.5.3), the listener's answers (compressed above the threshold for requests
 * that accept gzip, streamed answers piped), and the client's decoding behind a real TLS server
 * (limits counting decoded bytes, a truncated or corrupt body an error rather than a hang).
 */
import anyTest, { type TestFn } from 'ava';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { createGzip, gunzipSync, gzipSync } from 'node:zlib';
import pino from 'pino';
import { generateSigningKey } from '../../src/core/signing.js';
import { FederationClient, FederationRequestError, systemResolverPorts } from '../../src/federation/transport/client.js';
import { acceptsGzip, COMPRESSION_THRESHOLD_BYTES, parseAcceptEncoding } from '../../src/federation/transport/compression.js';
import { createFederationServer } from '../../src/federation/transport/listener.js';
import { ServerResolver } from '../../src/federation/transport/resolver.js';
import { loadOrCreateTlsCertificate } from '../../src/federation/transport/tls-certificate.js';

interface Peer {
  server: Server;
  name: string;
  /** What the fake peer answers next, and the Accept-Encoding of the requests it saw. */
  answer: (req: IncomingMessage, res: ServerResponse) => void;
  acceptEncodings: (string | undefined)[];
}

const test = anyTest as TestFn<{ peer: Peer; dir: string }>;

test.before(async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hearth-gzip-'));
  const tls = await loadOrCreateTlsCertificate({ dataDir: dir, serverName: '127.0.0.1', certificatePath: '', privateKeyPath: '' });
  const peer = { acceptEncodings: [], answer: () => undefined } as unknown as Peer;
  peer.server = createServer({ cert: tls.cert, key: tls.key }, (req, res) => {
    peer.acceptEncodings.push(req.headers['accept-encoding']);
    peer.answer(req, res);
  });
  await new Promise<void>((resolve) => peer.server.listen(0, '127.0.0.1', resolve));
  peer.name = `127.0.0.1:${(peer.server.address() as AddressInfo).port}`;
  t.context = { peer, dir };
});

test.after.always((t) => {
  t.context.peer?.server.closeAllConnections();
  t.context.peer?.server.close();
  if (t.context.dir) rmSync(t.context.dir, { recursive: true, force: true });
});

function client(): FederationClient {
  const key = generateSigningKey();
  return new FederationClient({ serverName: 'us.example', signingKey: () => ({ ...key, keyId: 'ed25519:t' }), resolver: new ServerResolver(systemResolverPorts({ verifyTls: false })), verifyTls: false });
}

/** A JSON answer of about `events` fake PDUs: repetitive field names and base64, like the real thing. */
function bigAnswer(events: number): { pdus: object[] } {
  const pdus = [];
  for (let i = 0; i < events; i++) {
    pdus.push({ type: 'm.room.message', sender: '@ann:home.example', room_id: '!room:home.example', depth: i, content: { msgtype: 'm.text', body: `message ${i}` }, hashes: { sha256: Buffer.from(`hash-${i}`).toString('base64') } });
  }
  return { pdus };
}

function gzipAnswer(res: ServerResponse, body: Buffer, headers: Record<string, string | number> = {}): void {
  res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip', ...headers });
  res.end(body);
}

/** Zeros compressed at level 9, streamed in (never a buffer of `megabytes` MiB): about 1 KB per MiB. */
async function zeroBomb(megabytes: number): Promise<Buffer> {
  const zeros = Buffer.alloc(1024 * 1024);
  const source = Readable.from((function* () {
    for (let i = 0; i < megabytes; i++) yield zeros;
  })());
  const chunks: Buffer[] = [];
  for await (const chunk of source.pipe(createGzip({ level: 9 }))) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

// --- Accept-Encoding ---

test('parseAcceptEncoding reads codings and weights, case-insensitively, x-gzip as gzip, malformed weights left out', (t) => {
  t.deepEqual([...parseAcceptEncoding('gzip, deflate;q=0.5, BR;Q=0.25')], [['gzip', 1], ['deflate', 0.5], ['br', 0.25]]);
  t.deepEqual([...parseAcceptEncoding('x-gzip;q=0.8')], [['gzip', 0.8]]);
  t.deepEqual([...parseAcceptEncoding(' gzip ; q=0 , identity')], [['gzip', 0], ['identity', 1]]);
  t.deepEqual([...parseAcceptEncoding('gzip;q=2, br;q=abc, deflate;q=0.1234, zstd;q=1.000')], [['zstd', 1]]);
  t.deepEqual([...parseAcceptEncoding(['gzip;q=0.5', 'gzip'])], [['gzip', 0.5]]);
  t.deepEqual([...parseAcceptEncoding('')], []);
  t.deepEqual([...parseAcceptEncoding(undefined)], []);
});

test('acceptsGzip: listed with a weight above 0, or through *; q=0, absence and a preferred identity mean no', (t) => {
  for (const yes of ['gzip', 'GZIP', 'deflate, gzip', 'gzip;q=0.001', 'x-gzip', '*', 'br, *;q=0.5', 'gzip;q=0.5, identity;q=0.5', 'gzip, identity;q=0']) {
    t.true(acceptsGzip(yes), yes);
  }
  for (const no of [undefined, '', 'identity', 'br, deflate', 'gzip;q=0', 'gzip;q=0.000', '*;q=0', 'gzip;q=0, *', '*, gzip;q=0', 'gzip;q=0.5, identity', 'gzip;q=nonsense']) {
    t.false(acceptsGzip(no), String(no));
  }
});

// --- The listener's answers ---

function listener(routes: (app: ReturnType<typeof createFederationServer>) => void) {
  const app = createFederationServer({ logger: pino({ level: 'silent' }) });
  routes(app);
  return app;
}

test('a JSON answer above the threshold goes gzip-compressed to a request accepting gzip, with Vary; the same answer without the header is identity', async (t) => {
  const answer = bigAnswer(200);
  const app = listener((a) => a.get('/big', async () => answer));
  t.teardown(() => app.close());
  const zipped = await app.inject({ method: 'GET', url: '/big', headers: { 'accept-encoding': 'gzip, deflate' } });
  t.is(zipped.statusCode, 200);
  t.is(zipped.headers['content-encoding'], 'gzip');
  t.is(zipped.headers.vary, 'Accept-Encoding');
  t.is(zipped.headers['content-type'], 'application/json');
  t.is(Number(zipped.headers['content-length']), zipped.rawPayload.length);
  const decoded = gunzipSync(zipped.rawPayload);
  t.deepEqual(JSON.parse(decoded.toString('utf8')), answer);
  t.true(zipped.rawPayload.length * 4 < decoded.length, `${zipped.rawPayload.length} bytes for ${decoded.length}`);

  for (const headers of [{}, { 'accept-encoding': 'gzip;q=0' }, { 'accept-encoding': 'identity' }]) {
    const plain = await app.inject({ method: 'GET', url: '/big', headers });
    t.is(plain.headers['content-encoding'], undefined, JSON.stringify(headers));
    t.is(plain.headers.vary, 'Accept-Encoding');
    t.deepEqual(plain.json(), answer);
  }
});

test('small answers, error answers and non-JSON answers go as they are', async (t) => {
  const app = listener((a) => {
    a.get('/small', async () => ({ ok: true }));
    a.get('/media', async (_req, reply) => reply.header('content-type', 'multipart/mixed; boundary=x').send(Buffer.alloc(COMPRESSION_THRESHOLD_BYTES * 4, 'a')));
  });
  t.teardown(() => app.close());
  const headers = { 'accept-encoding': 'gzip' };
  const small = await app.inject({ method: 'GET', url: '/small', headers });
  t.is(small.headers['content-encoding'], undefined);
  t.is(small.headers.vary, undefined);
  t.deepEqual(small.json(), { ok: true });
  const missing = await app.inject({ method: 'GET', url: '/nowhere', headers });
  t.is(missing.statusCode, 404);
  t.is(missing.headers['content-encoding'], undefined);
  t.is(missing.json().errcode, 'M_UNRECOGNIZED');
  const media = await app.inject({ method: 'GET', url: '/media', headers });
  t.is(media.headers['content-encoding'], undefined);
  t.is(media.rawPayload.length, COMPRESSION_THRESHOLD_BYTES * 4);
});

test('a streamed JSON answer is piped through gzip, not gathered: its beginning arrives before the source ends', async (t) => {
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  // Hex of random bytes compresses about 2:1: 256 KiB of it fill several of zlib's 16 KiB output
  // chunks, which leave before the source is finished (a small beginning would wait in zlib).
  const items = Array.from({ length: 64 }, () => JSON.stringify(randomBytes(2048).toString('hex')));
  const app = listener((a) =>
    a.get('/stream', async (_req, reply) => {
      const source = Readable.from((async function* () {
        yield `{"pdus":[${items.join(',')}`;
        // The answer cannot be complete before the client has decoded part of it.
        await released;
        yield ']}';
      })());
      return reply.header('content-type', 'application/json').send(source);
    }),
  );
  t.teardown(() => app.close());
  await app.listen({ host: '127.0.0.1', port: 0 });
  const port = (app.server.address() as AddressInfo).port;
  const res = await fetch(`http://127.0.0.1:${port}/stream`, { headers: { 'accept-encoding': 'gzip' } });
  t.is(res.headers.get('content-encoding'), 'gzip');
  t.is(res.headers.get('content-length'), null);
  // fetch decodes gzip itself.
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  const { value: first } = await reader.read();
  let text = decoder.decode(first, { stream: true });
  t.true(text.startsWith('{"pdus":["'), text.slice(0, 20));
  release();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
  }
  t.deepEqual(JSON.parse(text), { pdus: items.map((i) => JSON.parse(i) as string) });
});

// --- The client's decoding ---

test.serial('the client asks for gzip and decodes a gzip answer, whole and streamed', async (t) => {
  const { peer } = t.context;
  const answer = bigAnswer(300);
  peer.answer = (_req, res) => gzipAnswer(res, gzipSync(JSON.stringify(answer)));
  peer.acceptEncodings.length = 0;
  const c = client();
  t.teardown(() => c.close());
  t.deepEqual(await c.get(peer.name, '/_matrix/federation/v1/backfill/x'), answer);
  const stream = await c.stream({ method: 'GET', destination: peer.name, path: '/_matrix/federation/v1/state/x' });
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  t.deepEqual(JSON.parse(Buffer.concat(chunks).toString('utf8')), answer);
  t.deepEqual(peer.acceptEncodings, ['gzip', 'gzip']);
});

test.serial('an identity answer still reads as before; an error answer in gzip is decoded for its errcode', async (t) => {
  const { peer } = t.context;
  const c = client();
  t.teardown(() => c.close());
  peer.answer = (_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"plain":true}');
  t.deepEqual(await c.get(peer.name, '/x'), { plain: true });
  peer.answer = (_req, res) => res.writeHead(403, { 'content-type': 'application/json', 'content-encoding': 'gzip' }).end(gzipSync('{"errcode":"M_FORBIDDEN","error":"no"}'));
  const err = await t.throwsAsync(c.get(peer.name, '/x'));
  t.like(err as FederationRequestError, { kind: 'http', status: 403, errcode: 'M_FORBIDDEN' });
});

test.serial('a gzip bomb is refused as too-large by its decoded size, whole and streamed', async (t) => {
  const { peer } = t.context;
  const bomb = await zeroBomb(64);
  const limit = 1024 * 1024;
  t.true(bomb.length < limit, `${bomb.length} bytes on the wire, under the limit`);
  peer.answer = (_req, res) => gzipAnswer(res, bomb, { 'content-length': bomb.length });
  const c = client();
  t.teardown(() => c.close());
  const whole = await t.throwsAsync(c.request({ method: 'GET', destination: peer.name, path: '/bomb', maxResponseBytes: limit }));
  t.like(whole as FederationRequestError, { kind: 'too-large', status: 200 });
  const stream = await c.stream({ method: 'GET', destination: peer.name, path: '/bomb', maxResponseBytes: limit });
  let read = 0;
  const streamed = await t.throwsAsync(async () => {
    for await (const chunk of stream) read += (chunk as Buffer).length;
  });
  t.like(streamed as FederationRequestError, { kind: 'too-large' });
  t.true(read <= limit, `${read} decoded bytes reached the reader`);
});

test.serial('a truncated gzip body is an error, not a hang nor a short answer, whole and streamed', async (t) => {
  const { peer } = t.context;
  const full = gzipSync(JSON.stringify(bigAnswer(300)));
  const truncated = full.subarray(0, Math.floor(full.length / 2));
  peer.answer = (_req, res) => gzipAnswer(res, truncated, { 'content-length': truncated.length });
  const c = client();
  t.teardown(() => c.close());
  const whole = await t.throwsAsync(c.get(peer.name, '/cut'));
  t.like(whole as FederationRequestError, { kind: 'not-json' });
  t.regex((whole as Error).message, /gzip body that does not decode/);
  const stream = await c.stream({ method: 'GET', destination: peer.name, path: '/cut' });
  const streamed = await t.throwsAsync(async () => {
    for await (const _chunk of stream);
  });
  t.like(streamed as FederationRequestError, { kind: 'not-json' });
});

test.serial('a corrupt gzip body and a coding we did not ask for are errors', async (t) => {
  const { peer } = t.context;
  const c = client();
  t.teardown(() => c.close());
  peer.answer = (_req, res) => gzipAnswer(res, Buffer.from('{"this is":"not gzip"}'));
  t.like((await t.throwsAsync(c.get(peer.name, '/corrupt'))) as FederationRequestError, { kind: 'not-json' });
  peer.answer = (_req, res) => res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'br' }).end('??');
  const br = await t.throwsAsync(c.get(peer.name, '/br'));
  t.like(br as FederationRequestError, { kind: 'not-json' });
  t.regex((br as Error).message, /coding we did not ask for \(br\)/);
});
