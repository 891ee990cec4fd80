/**
 * Issue 10 "Security tests" that already hold, kept held: media ids cannot climb out of the media
 * directory (client-server-api "Content repository": a media id is opaque, `[A-Za-z0-9_-]`), an
 * uploaded file name never becomes a path, and closed registration (the default) refuses every way
 * of creating an account over HTTP.
 */
import test from 'ava';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { startHearth, type HearthServer } from '../integration/helpers/server.js';
import { registerUser, request, type RegisteredUser } from '../integration/helpers/http.js';

let open: HearthServer;
let alice: RegisteredUser;

test.before(async () => {
  open = await startHearth();
  alice = await registerUser(open.baseUrl, 'alice', 'alice password');
});

test.after.always(async () => {
  await open?.stop();
});

/** Raw GET, so that `..` and encoded slashes reach the server as written (fetch would resolve them). */
async function rawGet(server: HearthServer, path: string, token?: string): Promise<{ status: number; text: string }> {
  const { request: httpRequest } = await import('node:http');
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port: server.port, path, method: 'GET', headers: token ? { authorization: `Bearer ${token}` } : {} }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('media ids that climb out of the media directory are refused, authenticated and legacy paths alike', async (t) => {
  const server = encodeURIComponent(open.serverName);
  // Files any traversal would reach: the database, the config with the registration secret, the signing key.
  const targets = ['..%2Fhearth.yaml', '..%2F..%2F..%2F..%2Fetc%2Fpasswd', '%2E%2E%2Fhearth.yaml', '..', '.', '..%5Chearth.yaml', '%2Fetc%2Fpasswd', 'abc%00..%2Fhearth.yaml'];
  for (const base of ['/_matrix/client/v1/media', '/_matrix/media/v3', '/_matrix/media/r0']) {
    for (const id of targets) {
      for (const kind of ['download', 'thumbnail']) {
        const res = await rawGet(open, `${base}/${kind}/${server}/${id}${kind === 'thumbnail' ? '?width=32&height=32' : ''}`, alice.accessToken);
        t.true(res.status === 400 || res.status === 404, `${base}/${kind}/${id}: ${res.status}`);
        t.false(/registration_shared_secret|root:x:0:0|server_name/.test(res.text), `${base}/${kind}/${id} served a file`);
      }
    }
    // A server name that is not one (the fuzzer's finding: these were fetch attempts answered 502):
    // refused at the edge, 400 M_INVALID_PARAM, nothing resolved or fetched.
    for (const name of ['..%2F..%2F', '%2500', '%24event%3Alocalhost', '%2B', 'P%7C%2C%3A%22Z1']) {
      for (const kind of ['download', 'thumbnail']) {
        const res = await rawGet(open, `${base}/${kind}/${name}/szot8KWQw2dRVmle5Zk4m1Zn`, alice.accessToken);
        t.is(res.status, 400, `${base}/${kind}/${name}: ${res.status} ${res.text}`);
        t.is(JSON.parse(res.text).errcode, 'M_INVALID_PARAM');
      }
    }
    // Unencoded `..` segments: whatever the router makes of them, no file comes back.
    const plain = await rawGet(open, `${base}/download/${server}/../../hearth.yaml`, alice.accessToken);
    t.true(plain.status >= 400 && plain.status < 500, `${base} plain ..: ${plain.status}`);
    t.false(/registration_shared_secret|server_name/.test(plain.text));
  }
});

test('an uploaded file name never becomes a path: refused, or kept as metadata under an opaque id', async (t) => {
  const upload = (name: string) =>
    fetch(`${open.baseUrl}/_matrix/media/v3/upload?filename=${encodeURIComponent(name)}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${alice.accessToken}`, 'content-type': 'text/plain' },
      body: 'uploaded',
    });
  for (const name of ['../../../escaped.txt', '..\\..\\escaped.txt', '/tmp/escaped.txt']) {
    const res = await upload(name);
    const body = (await res.json()) as { content_uri?: string; errcode?: string };
    if (res.status === 200) {
      t.regex(body.content_uri!.split('/').pop()!, /^[A-Za-z0-9_-]+$/, name);
    } else {
      t.is(res.status, 400, name);
      t.is(typeof body.errcode, 'string', name);
    }
  }
  for (const dir of [open.dataDir, join(open.dataDir, '..'), join(open.dataDir, 'media', '..', '..'), '/tmp']) t.false(existsSync(join(dir, 'escaped.txt')), dir);
  // An ordinary upload lands in the media directory under its id and comes back.
  const res = await upload('photo.txt');
  t.is(res.status, 200);
  const mediaId = ((await res.json()) as { content_uri: string }).content_uri.split('/').pop()!;
  t.true(readdirSync(join(open.dataDir, 'media')).includes(mediaId), 'stored under its id in the media directory');
  const back = await fetch(`${open.baseUrl}/_matrix/client/v1/media/download/${encodeURIComponent(open.serverName)}/${mediaId}`, { headers: { authorization: `Bearer ${alice.accessToken}` } });
  t.is(await back.text(), 'uploaded');
});

test('closed registration refuses every way of creating an account over HTTP', async (t) => {
  const closed = await startHearth({ registration: 'closed', t });
  // Guests get the errcode the spec names for them (client-server-api "Guest access").
  const attempts: Array<[string, unknown, string]> = [
    ['/_matrix/client/v3/register', { username: 'eve', password: 'eve password' }, 'M_FORBIDDEN'],
    ['/_matrix/client/v3/register', { username: 'eve', password: 'eve password', auth: { type: 'm.login.dummy' } }, 'M_FORBIDDEN'],
    ['/_matrix/client/v3/register?kind=guest', {}, 'M_GUEST_ACCESS_FORBIDDEN'],
    ['/_matrix/client/v3/register?kind=user', { username: 'eve', password: 'eve password', auth: { type: 'm.login.registration_token', token: 'guess' } }, 'M_FORBIDDEN'],
    ['/_matrix/client/r0/register', { username: 'eve', password: 'eve password', auth: { type: 'm.login.dummy' } }, 'M_FORBIDDEN'],
  ];
  for (const [path, json, errcode] of attempts) {
    const res = await request(closed.baseUrl, 'POST', path, { json });
    t.is(res.status, 403, `${path}: ${res.status} ${res.text}`);
    t.is(res.body?.errcode, errcode, path);
    t.is(res.body?.access_token, undefined);
  }
  // Nobody named eve exists afterwards: logging in as eve fails like any unknown user.
  const login = await request(closed.baseUrl, 'POST', '/_matrix/client/v3/login', { json: { type: 'm.login.password', identifier: { type: 'm.id.user', user: 'eve' }, password: 'eve password' } });
  t.is(login.status, 403);
  t.is(login.body.errcode, 'M_FORBIDDEN');
  // The shared-secret admin API needs the secret from hearth.yaml: a guessed MAC is refused.
  const nonce = await request(closed.baseUrl, 'GET', '/_synapse/admin/v1/register');
  t.is(nonce.status, 200);
  const forged = await request(closed.baseUrl, 'POST', '/_synapse/admin/v1/register', { json: { nonce: nonce.body.nonce, username: 'eve', password: 'eve password', admin: true, mac: '0'.repeat(40) } });
  t.is(forged.status, 403, forged.text);
  t.is(forged.body.errcode, 'M_FORBIDDEN');
});
