/**
 * Issue 10 "Security tests" that already hold, kept held: one user cannot read another's private
 * data: account data (global and per room), room tags, filters, devices, and the messages, state and
 * events of a room they never joined (client-server-api: "Client Config", "Device management",
 * "Room history visibility": a user with no membership sees nothing of a non-world-readable room).
 */
import test from 'ava';
import { startHearth, type HearthServer } from '../integration/helpers/server.js';
import { registerUser, request, type RegisteredUser } from '../integration/helpers/http.js';

let hearth: HearthServer;
let alice: RegisteredUser;
let mallory: RegisteredUser;
let roomId: string;
let eventId: string;
let filterId: string;

const enc = encodeURIComponent;
const SECRET = 'alice secret text';

test.before(async () => {
  hearth = await startHearth();
  alice = await registerUser(hearth.baseUrl, 'alice', 'alice password');
  mallory = await registerUser(hearth.baseUrl, 'mallory', 'mallory password');
  const a = { token: alice.accessToken };
  const created = await request(hearth.baseUrl, 'POST', '/_matrix/client/v3/createRoom', { ...a, json: { preset: 'private_chat', name: SECRET, topic: SECRET } });
  roomId = created.body.room_id;
  eventId = (await request(hearth.baseUrl, 'PUT', `/_matrix/client/v3/rooms/${enc(roomId)}/send/m.room.message/t1`, { ...a, json: { msgtype: 'm.text', body: SECRET } })).body.event_id;
  const u = enc(alice.userId);
  await request(hearth.baseUrl, 'PUT', `/_matrix/client/v3/user/${u}/account_data/org.example.secret`, { ...a, json: { secret: SECRET } });
  await request(hearth.baseUrl, 'PUT', `/_matrix/client/v3/user/${u}/rooms/${enc(roomId)}/account_data/org.example.secret`, { ...a, json: { secret: SECRET } });
  await request(hearth.baseUrl, 'PUT', `/_matrix/client/v3/user/${u}/rooms/${enc(roomId)}/tags/u.${enc(SECRET)}`, { ...a, json: {} });
  filterId = (await request(hearth.baseUrl, 'POST', `/_matrix/client/v3/user/${u}/filter`, { ...a, json: { room: { timeline: { limit: 3 } }, event_fields: [SECRET] } })).body.filter_id;
  await request(hearth.baseUrl, 'PUT', `/_matrix/client/v3/devices/${enc(alice.deviceId)}`, { ...a, json: { display_name: SECRET } });
});

test.after.always(async () => {
  await hearth?.stop();
});

test('what alice stored is there for alice (so the refusals below are about who asks)', async (t) => {
  const a = { token: alice.accessToken };
  const u = enc(alice.userId);
  t.is((await request(hearth.baseUrl, 'GET', `/_matrix/client/v3/user/${u}/account_data/org.example.secret`, a)).body.secret, SECRET);
  t.is((await request(hearth.baseUrl, 'GET', `/_matrix/client/v3/user/${u}/rooms/${enc(roomId)}/account_data/org.example.secret`, a)).body.secret, SECRET);
  t.true(JSON.stringify((await request(hearth.baseUrl, 'GET', `/_matrix/client/v3/user/${u}/rooms/${enc(roomId)}/tags`, a)).body).includes(SECRET));
  t.deepEqual((await request(hearth.baseUrl, 'GET', `/_matrix/client/v3/user/${u}/filter/${filterId}`, a)).body.event_fields, [SECRET]);
  t.is((await request(hearth.baseUrl, 'GET', `/_matrix/client/v3/devices/${enc(alice.deviceId)}`, a)).body.display_name, SECRET);
  t.is((await request(hearth.baseUrl, 'GET', `/_matrix/client/v3/rooms/${enc(roomId)}/event/${enc(eventId)}`, a)).body.content.body, SECRET);
});

test("mallory reads none of alice's private data, and is told no rather than given it", async (t) => {
  const m = { token: mallory.accessToken };
  const u = enc(alice.userId);
  const r = enc(roomId);
  const attempts: Array<[string, string, number[]]> = [
    ['GET', `/_matrix/client/v3/user/${u}/account_data/org.example.secret`, [403]],
    ['GET', `/_matrix/client/v3/user/${u}/rooms/${r}/account_data/org.example.secret`, [403]],
    ['GET', `/_matrix/client/v3/user/${u}/rooms/${r}/tags`, [403]],
    ['GET', `/_matrix/client/v3/user/${u}/filter/${filterId}`, [403, 404]],
    ['GET', `/_matrix/client/v3/devices/${enc(alice.deviceId)}`, [404]],
    ['GET', `/_matrix/client/v3/rooms/${r}/messages?dir=b&limit=50`, [403]],
    ['GET', `/_matrix/client/v3/rooms/${r}/state`, [403]],
    ['GET', `/_matrix/client/v3/rooms/${r}/state/m.room.name/`, [403]],
    ['GET', `/_matrix/client/v3/rooms/${r}/event/${enc(eventId)}`, [403, 404]],
    ['GET', `/_matrix/client/v3/rooms/${r}/context/${enc(eventId)}`, [403, 404]],
    ['GET', `/_matrix/client/v3/rooms/${r}/members`, [403]],
    ['GET', `/_matrix/client/v3/rooms/${r}/joined_members`, [403]],
    ['GET', `/_matrix/client/v3/rooms/${r}/initialSync`, [403]],
    ['GET', `/_matrix/client/v1/rooms/${r}/relations/${enc(eventId)}`, [403, 404]],
    ['GET', `/_matrix/client/v1/rooms/${r}/threads`, [403]],
  ];
  for (const [method, path, statuses] of attempts) {
    const res = await request(hearth.baseUrl, method, path, m);
    t.true(statuses.includes(res.status), `${method} ${path}: ${res.status} ${res.text.slice(0, 200)}`);
    t.is(typeof res.body?.errcode, 'string', path);
    t.false(res.text.includes(SECRET), `${path} leaked the secret`);
  }
  // Writing into alice's data is refused the same way.
  const write = await request(hearth.baseUrl, 'PUT', `/_matrix/client/v3/user/${u}/account_data/org.example.secret`, { ...m, json: { secret: 'overwritten' } });
  t.is(write.status, 403);
  t.is((await request(hearth.baseUrl, 'GET', `/_matrix/client/v3/user/${u}/account_data/org.example.secret`, { token: alice.accessToken })).body.secret, SECRET);
});

test("mallory's own views carry nothing of alice's: devices, sync, search", async (t) => {
  const m = { token: mallory.accessToken };
  const devices = await request(hearth.baseUrl, 'GET', '/_matrix/client/v3/devices', m);
  t.is(devices.status, 200);
  t.deepEqual(devices.body.devices.map((d: { device_id: string }) => d.device_id), [mallory.deviceId]);
  const sync = await request(hearth.baseUrl, 'GET', '/_matrix/client/v3/sync?timeout=0', m);
  t.is(sync.status, 200);
  t.false(sync.text.includes(SECRET));
  t.false(sync.text.includes(roomId));
  const search = await request(hearth.baseUrl, 'POST', '/_matrix/client/v3/search', { ...m, json: { search_categories: { room_events: { search_term: 'secret' } } } });
  t.is(search.status, 200);
  t.false(search.text.includes(SECRET));
  const messagesViaFilter = await request(hearth.baseUrl, 'GET', `/_matrix/client/v3/sync?timeout=0&filter=${enc(JSON.stringify({ room: { rooms: [roomId] } }))}`, m);
  t.false(messagesViaFilter.text.includes(SECRET), 'naming the room in a filter does not let mallory in');
});
