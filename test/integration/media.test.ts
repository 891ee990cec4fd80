/**
 * The content repository with a real client: matrix-js-sdk uploads, then downloads go through the
 * authenticated v1 paths and the legacy ones; limits, thumbnails, unknown media and a restart.
 */
import test from 'ava';
import { readFileSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import * as sdk from 'matrix-js-sdk';
import { startHearth, type HearthServer } from './helpers/server.js';
import { registerUser, type RegisteredUser } from './helpers/http.js';
import { silenceSdk, unrefSdkRequestTimers } from './helpers/sdk.js';

silenceSdk();
unrefSdkRequestTimers();

let hearth: HearthServer;
let alice: RegisteredUser;
let client: sdk.MatrixClient;

// A 1x1 PNG and some bytes that are not text.
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==', 'base64');
const BINARY = Buffer.from(Array.from({ length: 70_000 }, (_, i) => (i * 7919) % 256));

test.before(async () => {
  hearth = await startHearth();
  alice = await registerUser(hearth.baseUrl, 'alice', 'pw-alice-media');
  client = sdk.createClient({ baseUrl: hearth.baseUrl, accessToken: alice.accessToken, userId: alice.userId, deviceId: alice.deviceId });
});
test.after.always(async () => {
  client?.stopClient();
  await hearth?.stop();
});

function mediaPath(mxc: string): string {
  const match = /^mxc:\/\/([^/]+)\/([A-Za-z0-9]+)$/.exec(mxc);
  if (!match) throw new Error(`not an mxc URI: ${mxc}`);
  return `${encodeURIComponent(match[1]!)}/${match[2]}`;
}

async function get(path: string, token?: string) {
  const res = await fetch(`${hearth.baseUrl}${path}`, token ? { headers: { authorization: `Bearer ${token}` } } : {});
  return { status: res.status, headers: res.headers, bytes: Buffer.from(await res.arrayBuffer()) };
}

test.serial('matrix-js-sdk uploads an image; it downloads byte for byte, inline, with its name, through v1 and the legacy path', async (t) => {
  const { content_uri: uri } = await client.uploadContent(PNG, { type: 'image/png', name: 'sensor chart.png' });
  t.regex(uri, new RegExp(`^mxc://${hearth.serverName.replace('.', '\\.')}/[A-Za-z0-9]{24}$`));
  const v1 = await get(`/_matrix/client/v1/media/download/${mediaPath(uri)}`, alice.accessToken);
  t.is(v1.status, 200);
  t.true(v1.bytes.equals(PNG));
  t.is(v1.headers.get('content-type'), 'image/png');
  t.is(v1.headers.get('content-disposition'), "inline; filename*=utf-8''sensor%20chart.png");
  t.regex(v1.headers.get('content-security-policy') ?? '', /sandbox/);
  const legacy = await get(`/_matrix/media/v3/download/${mediaPath(uri)}/other.png`);
  t.true(legacy.bytes.equals(PNG), 'the legacy path serves local media without a token');
  t.is(legacy.headers.get('content-disposition'), "inline; filename*=utf-8''other.png", 'the name in the path wins');
  const thumb = await get(`/_matrix/client/v1/media/thumbnail/${mediaPath(uri)}?width=32&height=32&method=scale`, alice.accessToken);
  t.is(thumb.status, 200);
  t.true(thumb.bytes.equals(PNG), 'an image smaller than every thumbnail is its own (the spec: "return the original content")');
  const unauthenticated = await get(`/_matrix/client/v1/media/download/${mediaPath(uri)}`);
  t.is(unauthenticated.status, 401);
  t.is(JSON.parse(unauthenticated.bytes.toString()).errcode, 'M_MISSING_TOKEN');
});

test.serial('other content is an attachment, has no thumbnail, and survives a restart', async (t) => {
  const { content_uri: uri } = await client.uploadContent(BINARY, { type: 'application/x-firmware', name: 'plug.bin' });
  const first = await get(`/_matrix/client/v1/media/download/${mediaPath(uri)}`, alice.accessToken);
  t.is(first.headers.get('content-disposition'), "attachment; filename*=utf-8''plug.bin", 'never shown in the browser');
  // As Synapse: 400 M_UNKNOWN, the spec's "the server cannot thumbnail the content".
  const thumb = await get(`/_matrix/client/v1/media/thumbnail/${mediaPath(uri)}?width=32&height=32`, alice.accessToken);
  t.is(thumb.status, 400);
  t.is(JSON.parse(thumb.bytes.toString()).errcode, 'M_UNKNOWN');
  await hearth.restart();
  const after = await get(`/_matrix/client/v1/media/download/${mediaPath(uri)}`, alice.accessToken);
  t.is(after.status, 200);
  t.true(after.bytes.equals(BINARY));
  t.is(Number(after.headers.get('content-length')), BINARY.length);
});

test.serial('unknown and malformed media ids are 404 M_NOT_FOUND; a server that cannot be reached is 502', async (t) => {
  for (const path of [`${encodeURIComponent(hearth.serverName)}/AAAAAAAAAAAAAAAAAAAAAAAA`, `${encodeURIComponent(hearth.serverName)}/..%2Fhearth.yaml`, 'matrix.org/..%2F..%2Fetc']) {
    const res = await get(`/_matrix/client/v1/media/download/${path}`, alice.accessToken);
    t.is(res.status, 404, path);
    t.is(JSON.parse(res.bytes.toString()).errcode, 'M_NOT_FOUND');
  }
  // Other servers' media is fetched over federation; this machine reaches no matrix.org (as
  // Synapse answers a failed remote fetch: 502).
  const remote = await get('/_matrix/client/v1/media/download/matrix.org/AAAAAAAAAAAAAAAAAAAAAAAA', alice.accessToken);
  t.is(remote.status, 502);
  t.is(JSON.parse(remote.bytes.toString()).errcode, 'M_UNKNOWN');
  // The legacy unauthenticated path serves local media only (client-server v1.11 froze it).
  const legacy = await get('/_matrix/media/v3/download/matrix.org/AAAAAAAAAAAAAAAAAAAAAAAA', alice.accessToken);
  t.is(legacy.status, 404);
});

/** A raw upload: `declared` is the Content-Length sent, `body` what is actually streamed (chunked when no length). */
function rawUpload(body: Buffer, declared?: number): Promise<{ status: number; body: any; connection?: string }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { authorization: `Bearer ${alice.accessToken}`, 'content-type': 'application/octet-stream' };
    if (declared !== undefined) headers['content-length'] = String(declared);
    const req = httpRequest(`${hearth.baseUrl}/_matrix/media/v3/upload`, { method: 'POST', headers, agent: false }, (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text), connection: res.headers.connection }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

test.serial('the upload limit comes from hearth.yaml and is refused with 413 M_TOO_LARGE, declared or streamed; nothing is kept', async (t) => {
  const yaml = join(hearth.dataDir, 'hearth.yaml');
  writeFileSync(yaml, readFileSync(yaml, 'utf8').replace(/max_upload_bytes: \d+/, 'max_upload_bytes: 100000'));
  await hearth.restart();
  const config = await get('/_matrix/client/v1/media/config', alice.accessToken);
  t.deepEqual(JSON.parse(config.bytes.toString()), { 'm.upload.size': 100000 });

  const declared = await rawUpload(Buffer.alloc(0), 60 * 1024 * 1024);
  t.is(declared.status, 413);
  t.is(declared.body.errcode, 'M_TOO_LARGE');
  t.is(declared.connection, 'close', 'refused from its Content-Length, the 60 MB are never read');
  const streamed = await rawUpload(Buffer.alloc(150_000, 1));
  t.is(streamed.status, 413, 'a chunked upload is cut off once past the limit');
  t.is(streamed.body.errcode, 'M_TOO_LARGE');
  const fits = await rawUpload(Buffer.alloc(99_000, 2));
  t.is(fits.status, 200);
  t.regex(fits.body.content_uri, /^mxc:\/\//);
  const { readdirSync } = await import('node:fs');
  t.deepEqual(readdirSync(join(hearth.dataDir, 'media')).filter((f) => f.endsWith('.part')), [], 'no partial file left behind');
});
