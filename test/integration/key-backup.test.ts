/**
 * Server-side key backups over HTTP against a running Hearth: versions, the better-copy rule, count
 * and etag, uploads to an old version refused, deletion, another user's backup invisible.
 */
import test from 'ava';
import { startHearth, type HearthServer } from './helpers/server.js';
import { registerUser, request, type RegisteredUser } from './helpers/http.js';

let hearth: HearthServer;
let alice: RegisteredUser;
let bob: RegisteredUser;
const ROOM = '!kitchen:example.org';
const AUTH = { public_key: 'hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo', signatures: {} };
const ALGORITHM = 'm.megolm_backup.v1.curve25519-aes-sha2';

test.before(async () => {
  hearth = await startHearth();
  alice = await registerUser(hearth.baseUrl, 'alice', 'pw-alice-backup');
  bob = await registerUser(hearth.baseUrl, 'bob', 'pw-bob-backup');
});
test.after.always(() => hearth?.stop());

const call = (method: string, path: string, json?: unknown, user = alice) =>
  request(hearth.baseUrl, method, `/_matrix/client/v3/room_keys${path}`, { token: user.accessToken, ...(json === undefined ? {} : { json }) });
const key = (first: number, forwarded: number, verified: boolean, tag: string) => ({
  first_message_index: first,
  forwarded_count: forwarded,
  is_verified: verified,
  session_data: { ciphertext: tag, ephemeral: 'e', mac: 'm' },
});

test.serial('no backup yet: 404 M_NOT_FOUND; a created version is the current one', async (t) => {
  const none = await call('GET', '/version');
  t.is(none.status, 404);
  t.is(none.body.errcode, 'M_NOT_FOUND');
  const created = await call('POST', '/version', { algorithm: ALGORITHM, auth_data: AUTH });
  t.deepEqual(created.body, { version: '1' });
  t.deepEqual((await call('GET', '/version')).body, { algorithm: ALGORITHM, auth_data: AUTH, count: 0, etag: '0', version: '1' });
  t.is((await call('GET', '/version', undefined, bob)).status, 404, "bob does not see alice's backup");
});

test.serial('keys: the better copy wins (verified, then lower first index, then fewer forwards); count and etag follow', async (t) => {
  let res = await call('PUT', '/keys?version=1', { rooms: { [ROOM]: { sessions: { s1: key(5, 1, false, 'a'), s2: key(0, 0, false, 'b') } } } });
  t.deepEqual(res.body, { count: 2, etag: '1' });
  res = await call('PUT', `/keys/${encodeURIComponent(ROOM)}/s1?version=1`, key(9, 0, true, 'verified'));
  t.deepEqual(res.body, { count: 2, etag: '2' }, 'verified beats unverified even from a later index');
  res = await call('PUT', `/keys/${encodeURIComponent(ROOM)}?version=1`, { sessions: { s1: key(0, 0, false, 'unverified'), s2: key(0, 3, false, 'more forwards') } });
  t.deepEqual(res.body, { count: 2, etag: '2' }, 'neither is better: nothing changes, etag stays');
  res = await call('PUT', `/keys/${encodeURIComponent(ROOM)}/s2?version=1`, key(0, 0, false, 'same'));
  t.is(res.body.etag, '2', 'an equal copy does not replace');

  const one = await call('GET', `/keys/${encodeURIComponent(ROOM)}/s1?version=1`);
  t.deepEqual(one.body, key(9, 0, true, 'verified'));
  const room = await call('GET', `/keys/${encodeURIComponent(ROOM)}?version=1`);
  t.deepEqual(Object.keys(room.body.sessions).sort(), ['s1', 's2']);
  const all = await call('GET', '/keys?version=1');
  t.deepEqual(all.body.rooms[ROOM].sessions.s2, key(0, 0, false, 'b'));
  t.is((await call('GET', `/keys/${encodeURIComponent(ROOM)}/nope?version=1`)).status, 404);
  t.deepEqual((await call('GET', `/keys/${encodeURIComponent('!other:x')}?version=1`)).body, { sessions: {} });
});

test.serial('a new version becomes current; uploads to the old one get 403 M_WRONG_ROOM_KEYS_VERSION naming it', async (t) => {
  t.deepEqual((await call('POST', '/version', { algorithm: ALGORITHM, auth_data: { ...AUTH, public_key: 'new' } })).body, { version: '2' });
  const stale = await call('PUT', '/keys?version=1', { rooms: { [ROOM]: { sessions: { s3: key(0, 0, true, 'c') } } } });
  t.is(stale.status, 403);
  t.is(stale.body.errcode, 'M_WRONG_ROOM_KEYS_VERSION');
  t.is(stale.body.current_version, '2');
  t.is((await call('GET', '/keys?version=1')).body.rooms[ROOM].sessions.s1.session_data.ciphertext, 'verified', 'old versions stay readable');
  t.is((await call('GET', '/version')).body.version, '2');
});

test.serial('auth_data may change, the algorithm may not; deleting keys and versions; numbers are not reused', async (t) => {
  t.is((await call('PUT', '/version/2', { algorithm: ALGORITHM, auth_data: { ...AUTH, public_key: 'newer' }, version: '2' })).status, 200);
  t.is((await call('GET', '/version/2')).body.auth_data.public_key, 'newer');
  t.is((await call('PUT', '/version/2', { algorithm: 'm.other', auth_data: AUTH })).body.errcode, 'M_INVALID_PARAM');
  t.is((await call('PUT', '/version/2', { algorithm: ALGORITHM, auth_data: AUTH, version: '1' })).body.errcode, 'M_INVALID_PARAM');

  t.deepEqual((await call('DELETE', `/keys/${encodeURIComponent(ROOM)}/s1?version=1`)).body, { count: 1, etag: '3' });
  t.deepEqual((await call('GET', `/keys?version=1`)).body.rooms[ROOM].sessions.s1, undefined);
  t.is((await call('DELETE', '/version/2')).status, 200);
  t.is((await call('GET', '/version')).body.version, '1', 'the newest remaining version is current again');
  t.is((await call('GET', '/version/2')).status, 404);
  t.deepEqual((await call('POST', '/version', { algorithm: ALGORITHM, auth_data: AUTH })).body, { version: '3' }, 'a deleted number is not handed out again');
});

test.serial('bad input: missing version, malformed keys, bad version bodies', async (t) => {
  t.is((await call('PUT', '/keys', { rooms: {} })).body.errcode, 'M_MISSING_PARAM');
  const bad = await call('PUT', `/keys/${encodeURIComponent(ROOM)}/s9?version=3`, { first_message_index: -1, forwarded_count: 0, is_verified: false, session_data: {} });
  t.is(bad.status, 400);
  t.is(bad.body.errcode, 'M_BAD_JSON');
  t.is((await call('POST', '/version', { algorithm: ALGORITHM })).body.errcode, 'M_BAD_JSON');
  t.is((await call('GET', '/version/banana')).status, 404);
  t.is((await call('GET', '/keys?version=3')).status, 200);
});
