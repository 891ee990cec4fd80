/**
 * `device_lists` of `/sync` through a real Hearth process, over plain HTTP (client-server-api
 * "Tracking the device list for a user", "Extensions to /sync"): a user's device list changes when
 * a device is created (login), renamed (`PUT /devices/{deviceId}`) or deleted, as Synapse's
 * `notify_device_update` records it; the user's other devices and every user sharing a room with
 * them see the user in `device_lists.changed` of their next incremental sync, nobody else does.
 * Also the refusal of badly signed device keys at `/keys/upload`, as docs/errors.md describes it.
 *
 * The tests run in order on one server: each sync token is taken after the previous step.
 */
import test, { type ExecutionContext } from 'ava';
import { encodeUnpaddedBase64 } from '../../src/core/base64.js';
import { generateSigningKey, signJson } from '../../src/core/signing.js';
import { startHearth, type HearthServer } from './helpers/server.js';
import { registerUser, request, type RegisteredUser } from './helpers/http.js';

const PASSWORD = 'correct horse battery staple';

let hearth: HearthServer;
let alice: RegisteredUser;
/** Alice's device that watches her own list change. */
let aliceWatcher: Session;
let bob: RegisteredUser;
let carol: RegisteredUser;
/** The sync position each watcher last reached. */
const since = new Map<string, string>();

interface Session {
  userId: string;
  deviceId: string;
  accessToken: string;
}

async function login(user: RegisteredUser, displayName: string): Promise<Session> {
  const res = await request(hearth.baseUrl, 'POST', '/_matrix/client/v3/login', {
    json: { type: 'm.login.password', identifier: { type: 'm.id.user', user: user.userId }, password: PASSWORD, initial_device_display_name: displayName },
  });
  if (res.status !== 200) throw new Error(`login of ${user.userId}: ${res.status} ${res.text}`);
  return { userId: res.body.user_id, deviceId: res.body.device_id, accessToken: res.body.access_token };
}

/** An incremental sync (initial the first time) that does not wait; returns its `device_lists`. */
async function syncDeviceLists(who: { accessToken: string }): Promise<{ changed: string[]; left: string[] }> {
  const from = since.get(who.accessToken);
  const query = from === undefined ? '?timeout=0' : `?timeout=0&since=${encodeURIComponent(from)}`;
  const res = await request(hearth.baseUrl, 'GET', `/_matrix/client/v3/sync${query}`, { token: who.accessToken });
  if (res.status !== 200) throw new Error(`sync: ${res.status} ${res.text}`);
  since.set(who.accessToken, res.body.next_batch);
  return res.body.device_lists ?? { changed: [], left: [] };
}

/** Alice's own other device and Bob (sharing a room) see Alice's list changed; Carol (sharing none) does not. */
async function assertAliceChangedSeenBySharersOnly(t: ExecutionContext, step: string): Promise<void> {
  const seen = {
    aliceOtherDevice: await syncDeviceLists(aliceWatcher),
    bobSharingARoom: await syncDeviceLists(bob),
    carolSharingNone: await syncDeviceLists(carol),
  };
  const aliceChanged = { changed: [alice.userId], left: [] };
  t.deepEqual(seen, { aliceOtherDevice: aliceChanged, bobSharingARoom: aliceChanged, carolSharingNone: { changed: [], left: [] } }, step);
}

test.before(async () => {
  hearth = await startHearth();
  alice = await registerUser(hearth.baseUrl, 'alice', PASSWORD);
  bob = await registerUser(hearth.baseUrl, 'bob', PASSWORD);
  carol = await registerUser(hearth.baseUrl, 'carol', PASSWORD);
  aliceWatcher = await login(alice, 'Alice watcher');
  const room = await request(hearth.baseUrl, 'POST', '/_matrix/client/v3/createRoom', {
    token: alice.accessToken,
    json: { preset: 'private_chat', invite: [bob.userId] },
  });
  if (room.status !== 200) throw new Error(`createRoom: ${room.status} ${room.text}`);
  const join = await request(hearth.baseUrl, 'POST', `/_matrix/client/v3/join/${encodeURIComponent(room.body.room_id)}`, { token: bob.accessToken, json: {} });
  if (join.status !== 200) throw new Error(`join: ${join.status} ${join.text}`);
  // Carol is in a room of her own, so she has rooms but shares none with Alice.
  await request(hearth.baseUrl, 'POST', '/_matrix/client/v3/createRoom', { token: carol.accessToken, json: {} });
  // Every watcher's starting point, after the room is shared (so the join itself is behind them).
  for (const who of [aliceWatcher, bob, carol]) await syncDeviceLists(who);
});

test.after.always(async () => {
  await hearth?.stop();
});

let newDevice: Session;

test.serial('a sync with no device change lists nobody', async (t) => {
  for (const who of [aliceWatcher, bob, carol]) t.deepEqual(await syncDeviceLists(who), { changed: [], left: [] });
});

test.serial('a new device (login) is a change of the user’s device list', async (t) => {
  newDevice = await login(alice, 'Alice tablet');
  await assertAliceChangedSeenBySharersOnly(t, 'login');
});

test.serial('renaming a device is a change of the user’s device list', async (t) => {
  const res = await request(hearth.baseUrl, 'PUT', `/_matrix/client/v3/devices/${encodeURIComponent(newDevice.deviceId)}`, {
    token: aliceWatcher.accessToken,
    json: { display_name: 'Alice kitchen tablet' },
  });
  t.is(res.status, 200);
  await assertAliceChangedSeenBySharersOnly(t, 'rename');
  const device = await request(hearth.baseUrl, 'GET', `/_matrix/client/v3/devices/${encodeURIComponent(newDevice.deviceId)}`, { token: aliceWatcher.accessToken });
  t.is(device.body.display_name, 'Alice kitchen tablet');
});

test.serial('a rename without display_name keeps the name (device_management.yaml: "If not given, the display name is unchanged")', async (t) => {
  const path = `/_matrix/client/v3/devices/${encodeURIComponent(newDevice.deviceId)}`;
  t.is((await request(hearth.baseUrl, 'PUT', path, { token: aliceWatcher.accessToken, json: {} })).status, 200);
  t.is((await request(hearth.baseUrl, 'GET', path, { token: aliceWatcher.accessToken })).body.display_name, 'Alice kitchen tablet');
  // Synapse records a change for every successful PUT; so does Hearth.
  await assertAliceChangedSeenBySharersOnly(t, 'empty rename');
});

test.serial('deleting a device is a change of the user’s device list', async (t) => {
  const path = `/_matrix/client/v3/devices/${encodeURIComponent(newDevice.deviceId)}`;
  const challenge = await request(hearth.baseUrl, 'DELETE', path, { token: aliceWatcher.accessToken, json: {} });
  t.is(challenge.status, 401);
  const auth = { type: 'm.login.password', identifier: { type: 'm.id.user', user: alice.userId }, password: PASSWORD, session: challenge.body.session };
  t.is((await request(hearth.baseUrl, 'DELETE', path, { token: aliceWatcher.accessToken, json: { auth } })).status, 200);
  await assertAliceChangedSeenBySharersOnly(t, 'delete');
});

test.serial('logging out deletes the device: a change of the user’s device list', async (t) => {
  const phone = await login(alice, 'Alice phone');
  await assertAliceChangedSeenBySharersOnly(t, 'login before logout');
  t.is((await request(hearth.baseUrl, 'POST', '/_matrix/client/v3/logout', { token: phone.accessToken, json: {} })).status, 200);
  await assertAliceChangedSeenBySharersOnly(t, 'logout');
});

test.serial('device keys not signed by the device’s own ed25519 key are refused with 400 M_INVALID_SIGNATURE and not stored', async (t) => {
  const deviceKey = generateSigningKey();
  const forger = { ...generateSigningKey(), keyId: `ed25519:${aliceWatcher.deviceId}` };
  const deviceKeys = {
    user_id: alice.userId,
    device_id: aliceWatcher.deviceId,
    algorithms: ['m.olm.v1.curve25519-aes-sha2', 'm.megolm.v1.aes-sha2'],
    keys: {
      [`curve25519:${aliceWatcher.deviceId}`]: encodeUnpaddedBase64(generateSigningKey().publicKey),
      [`ed25519:${aliceWatcher.deviceId}`]: encodeUnpaddedBase64(deviceKey.publicKey),
    },
  };
  // Signed under the device's key id, but by another key than the ed25519 key the object names.
  const forged = signJson(deviceKeys, alice.userId, forger);
  const res = await request(hearth.baseUrl, 'POST', '/_matrix/client/v3/keys/upload', { token: aliceWatcher.accessToken, json: { device_keys: forged } });
  t.is(res.status, 400);
  t.is(res.body.errcode, 'M_INVALID_SIGNATURE');
  t.is(typeof res.body.error, 'string');
  const query = await request(hearth.baseUrl, 'POST', '/_matrix/client/v3/keys/query', { token: bob.accessToken, json: { device_keys: { [alice.userId]: [] } } });
  t.deepEqual(query.body.device_keys[alice.userId], {});
  // Refused keys change nothing anybody must refetch.
  t.deepEqual((await syncDeviceLists(bob)).changed, []);
  // The same keys signed by the right key are taken, and are a change.
  const good = signJson(deviceKeys, alice.userId, { ...deviceKey, keyId: `ed25519:${aliceWatcher.deviceId}` });
  t.is((await request(hearth.baseUrl, 'POST', '/_matrix/client/v3/keys/upload', { token: aliceWatcher.accessToken, json: { device_keys: good } })).status, 200);
  t.deepEqual((await syncDeviceLists(bob)).changed, [alice.userId]);
});
