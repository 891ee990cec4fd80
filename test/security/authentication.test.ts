/**
 * Issue 10 "Security tests" that already hold, kept held: every authenticated route family answers
 * 401 without an access token (M_MISSING_TOKEN) and with a wrong one (M_UNKNOWN_TOKEN)
 * (client-server-api "Using access tokens"), a logged-out token is dead, and nothing a route would
 * do happens (checked on a room the test owns).
 */
import test from 'ava';
import { startHearth, type HearthServer } from '../integration/helpers/server.js';
import { registerUser, request, type RegisteredUser } from '../integration/helpers/http.js';

let hearth: HearthServer;
let alice: RegisteredUser;
let roomId: string;
let eventId: string;

const enc = encodeURIComponent;

test.before(async () => {
  hearth = await startHearth();
  alice = await registerUser(hearth.baseUrl, 'alice', 'alice password');
  const created = await request(hearth.baseUrl, 'POST', '/_matrix/client/v3/createRoom', { token: alice.accessToken, json: { preset: 'private_chat', name: 'kept' } });
  roomId = created.body.room_id;
  const sent = await request(hearth.baseUrl, 'PUT', `/_matrix/client/v3/rooms/${enc(roomId)}/send/m.room.message/t1`, { token: alice.accessToken, json: { msgtype: 'm.text', body: 'hello' } });
  eventId = sent.body.event_id;
});

test.after.always(async () => {
  await hearth?.stop();
});

/** One route of each authenticated family (client-server-api modules), with a plausible body. */
function authenticatedRoutes(): Array<[string, string, unknown?]> {
  const r = enc(roomId);
  const u = enc(alice.userId);
  const e = enc(eventId);
  return [
    ['GET', '/_matrix/client/v3/account/whoami'],
    ['POST', '/_matrix/client/v3/account/password', { new_password: 'x' }],
    ['POST', '/_matrix/client/v3/account/deactivate', {}],
    ['GET', '/_matrix/client/v3/account/3pid'],
    ['POST', '/_matrix/client/v3/logout', {}],
    ['POST', '/_matrix/client/v3/logout/all', {}],
    ['GET', '/_matrix/client/v3/capabilities'],
    ['GET', '/_matrix/client/v3/sync'],
    ['POST', `/_matrix/client/v3/user/${u}/filter`, { room: {} }],
    ['GET', `/_matrix/client/v3/user/${u}/filter/0`],
    ['POST', '/_matrix/client/v3/createRoom', {}],
    ['GET', '/_matrix/client/v3/joined_rooms'],
    ['PUT', `/_matrix/client/v3/rooms/${r}/send/m.room.message/t401`, { msgtype: 'm.text', body: 'forged' }],
    ['PUT', `/_matrix/client/v3/rooms/${r}/state/m.room.name/`, { name: 'forged' }],
    ['GET', `/_matrix/client/v3/rooms/${r}/state`],
    ['GET', `/_matrix/client/v3/rooms/${r}/state/m.room.name/`],
    ['GET', `/_matrix/client/v3/rooms/${r}/event/${e}`],
    ['GET', `/_matrix/client/v3/rooms/${r}/context/${e}`],
    ['GET', `/_matrix/client/v3/rooms/${r}/messages?dir=b`],
    ['GET', `/_matrix/client/v3/rooms/${r}/members`],
    ['GET', `/_matrix/client/v3/rooms/${r}/joined_members`],
    ['GET', `/_matrix/client/v3/rooms/${r}/initialSync`],
    ['PUT', `/_matrix/client/v3/rooms/${r}/redact/${e}/t402`, {}],
    ['POST', `/_matrix/client/v3/rooms/${r}/invite`, { user_id: '@x:localhost' }],
    ['POST', `/_matrix/client/v3/rooms/${r}/kick`, { user_id: alice.userId }],
    ['POST', `/_matrix/client/v3/rooms/${r}/leave`, {}],
    ['POST', `/_matrix/client/v3/join/${r}`, {}],
    ['POST', `/_matrix/client/v3/rooms/${r}/upgrade`, { new_version: '11' }],
    ['POST', `/_matrix/client/v3/rooms/${r}/receipt/m.read/${e}`, {}],
    ['POST', `/_matrix/client/v3/rooms/${r}/read_markers`, { 'm.fully_read': eventId }],
    ['PUT', `/_matrix/client/v3/rooms/${r}/typing/${u}`, { typing: true, timeout: 1000 }],
    ['POST', `/_matrix/client/v3/rooms/${r}/report/${e}`, { reason: 'x' }],
    ['GET', `/_matrix/client/v1/rooms/${r}/relations/${e}`],
    ['GET', `/_matrix/client/v1/rooms/${r}/threads`],
    ['GET', `/_matrix/client/v1/rooms/${r}/hierarchy`],
    ['GET', `/_matrix/client/v1/rooms/${r}/timestamp_to_event?ts=0&dir=f`],
    ['GET', `/_matrix/client/v3/rooms/${r}/aliases`],
    ['PUT', `/_matrix/client/v3/directory/room/${enc(`#x:${hearth.serverName}`)}`, { room_id: roomId }],
    ['PUT', `/_matrix/client/v3/directory/list/room/${r}`, { visibility: 'public' }],
    ['POST', '/_matrix/client/v3/search', { search_categories: { room_events: { search_term: 'hello' } } }],
    ['POST', '/_matrix/client/v3/user_directory/search', { search_term: 'alice' }],
    ['PUT', `/_matrix/client/v3/profile/${u}/displayname`, { displayname: 'forged' }],
    ['PUT', `/_matrix/client/v3/presence/${u}/status`, { presence: 'online' }],
    ['GET', `/_matrix/client/v3/presence/${u}/status`],
    ['GET', `/_matrix/client/v3/user/${u}/account_data/m.direct`],
    ['PUT', `/_matrix/client/v3/user/${u}/account_data/m.direct`, {}],
    ['GET', `/_matrix/client/v3/user/${u}/rooms/${r}/account_data/x`],
    ['GET', `/_matrix/client/v3/user/${u}/rooms/${r}/tags`],
    ['PUT', `/_matrix/client/v3/user/${u}/rooms/${r}/tags/m.favourite`, {}],
    ['GET', '/_matrix/client/v3/devices'],
    ['GET', `/_matrix/client/v3/devices/${enc(alice.deviceId)}`],
    ['PUT', `/_matrix/client/v3/devices/${enc(alice.deviceId)}`, { display_name: 'forged' }],
    ['DELETE', `/_matrix/client/v3/devices/${enc(alice.deviceId)}`, {}],
    ['POST', '/_matrix/client/v3/delete_devices', { devices: [alice.deviceId] }],
    ['PUT', '/_matrix/client/v3/sendToDevice/m.test/t403', { messages: {} }],
    ['POST', '/_matrix/client/v3/keys/upload', {}],
    ['POST', '/_matrix/client/v3/keys/query', { device_keys: {} }],
    ['POST', '/_matrix/client/v3/keys/claim', { one_time_keys: {} }],
    ['GET', '/_matrix/client/v3/keys/changes?from=0&to=1'],
    ['POST', '/_matrix/client/v3/keys/device_signing/upload', {}],
    ['POST', '/_matrix/client/v3/keys/signatures/upload', {}],
    ['GET', '/_matrix/client/v3/room_keys/version'],
    ['POST', '/_matrix/client/v3/room_keys/version', { algorithm: 'm.megolm_backup.v1.curve25519-aes-sha2', auth_data: {} }],
    ['GET', '/_matrix/client/v3/pushrules/'],
    ['PUT', '/_matrix/client/v3/pushrules/global/content/x', { actions: ['notify'], pattern: 'x' }],
    ['GET', '/_matrix/client/v3/pushers'],
    ['POST', '/_matrix/client/v3/pushers/set', { pushkey: 'p', kind: null, app_id: 'a' }],
    ['GET', '/_matrix/client/v3/notifications'],
    ['GET', '/_matrix/client/v3/voip/turnServer'],
    ['GET', '/_matrix/client/v1/media/config'],
    ['GET', `/_matrix/client/v1/media/download/${enc(hearth.serverName)}/abc`],
    ['POST', '/_matrix/media/v3/upload', {}],
    ['POST', `/_matrix/client/v3/users/${u}/report`, { reason: 'x' }],
    ['GET', `/_matrix/client/v1/org.hearth/rooms/${r}/telemetry/temperature`],
    ['GET', '/_synapse/admin/v1/event_reports'],
  ];
}

for (const [label, token, errcode] of [
  ['without an access token', undefined, 'M_MISSING_TOKEN'],
  ['with an unknown access token', 'syt_not_a_real_token', 'M_UNKNOWN_TOKEN'],
] as const) {
  test.serial(`every authenticated route family answers 401 ${label}`, async (t) => {
    const wrong: string[] = [];
    for (const [method, path, json] of authenticatedRoutes()) {
      const res = await request(hearth.baseUrl, method, path, { token, json });
      if (res.status !== 401 || res.body?.errcode !== errcode) wrong.push(`${method} ${path}: ${res.status} ${res.text.slice(0, 200)}`);
    }
    t.deepEqual(wrong, []);
    // Nothing happened: the room kept its name and has no forged message.
    const name = await request(hearth.baseUrl, 'GET', `/_matrix/client/v3/rooms/${enc(roomId)}/state/m.room.name/`, { token: alice.accessToken });
    t.is(name.body?.name, 'kept');
    const page = await request(hearth.baseUrl, 'GET', `/_matrix/client/v3/rooms/${enc(roomId)}/messages?dir=b&limit=50`, { token: alice.accessToken });
    t.false(JSON.stringify(page.body.chunk).includes('forged'));
    const who = await request(hearth.baseUrl, 'GET', '/_matrix/client/v3/account/whoami', { token: alice.accessToken });
    t.is(who.body.user_id, alice.userId, 'the real token still works');
  });
}

test.serial('a token in the query string is checked the same way, and a logged-out token is dead', async (t) => {
  const bad = await request(hearth.baseUrl, 'GET', '/_matrix/client/v3/account/whoami?access_token=syt_nope');
  t.is(bad.status, 401);
  t.is(bad.body.errcode, 'M_UNKNOWN_TOKEN');
  const session = await request(hearth.baseUrl, 'POST', '/_matrix/client/v3/login', {
    json: { type: 'm.login.password', identifier: { type: 'm.id.user', user: 'alice' }, password: 'alice password' },
  });
  t.is(session.status, 200, session.text);
  const token = session.body.access_token as string;
  t.is((await request(hearth.baseUrl, 'GET', '/_matrix/client/v3/account/whoami', { token })).status, 200);
  t.is((await request(hearth.baseUrl, 'POST', '/_matrix/client/v3/logout', { token, json: {} })).status, 200);
  const after = await request(hearth.baseUrl, 'GET', '/_matrix/client/v3/account/whoami', { token });
  t.is(after.status, 401);
  t.is(after.body.errcode, 'M_UNKNOWN_TOKEN');
});
