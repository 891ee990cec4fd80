import test from 'ava';
import { startHarness, SERVER_NAME } from '../accounts/harness.js';

const passwordAuth = (user: string, password: string, session: string) => ({
  type: 'm.login.password',
  identifier: { type: 'm.id.user', user },
  password,
  session,
});

test('devices: list, rename, delete with UIA', async (t) => {
  const h = await startHarness();
  t.teardown(() => h.close());
  const me = await h.user('jan', 'jan-pw');
  const laptop = await h.accounts.loginWithPassword('jan', 'jan-pw', { deviceId: 'LAPTOP', displayName: 'Laptop' });

  const list = await h.call('GET', '/_matrix/client/v3/devices', { token: me.token });
  t.deepEqual(list.body.devices.map((d: { device_id: string }) => d.device_id).sort(), [me.deviceId, 'LAPTOP'].sort());
  const entry = list.body.devices.find((d: { device_id: string }) => d.device_id === 'LAPTOP');
  t.is(entry.display_name, 'Laptop');
  t.is(typeof entry.last_seen_ts, 'number');

  t.is((await h.call('PUT', '/_matrix/client/v3/devices/LAPTOP', { token: me.token, body: { display_name: 'Old laptop' } })).status, 200);
  t.is((await h.call('GET', '/_matrix/client/v3/devices/LAPTOP', { token: me.token })).body.display_name, 'Old laptop');
  t.is((await h.call('GET', '/_matrix/client/v3/devices/NOPE', { token: me.token })).body.errcode, 'M_NOT_FOUND');
  t.is((await h.call('PUT', '/_matrix/client/v3/devices/NOPE', { token: me.token, body: {} })).status, 404);

  const challenge = await h.call('DELETE', '/_matrix/client/v3/devices/LAPTOP', { token: me.token });
  t.is(challenge.status, 401);
  t.deepEqual(challenge.body.flows, [{ stages: ['m.login.password'] }]);
  const wrong = await h.call('DELETE', '/_matrix/client/v3/devices/LAPTOP', {
    token: me.token,
    body: { auth: passwordAuth('jan', 'wrong', challenge.body.session) },
  });
  t.is(wrong.status, 401);
  t.is(wrong.body.errcode, 'M_FORBIDDEN');
  // Another user's password does not authorise jan's request: 403 "Invalid auth", as Synapse.
  await h.accounts.createUser('kim', { password: 'kim-pw' });
  const foreign = await h.call('DELETE', '/_matrix/client/v3/devices/LAPTOP', {
    token: me.token,
    body: { auth: passwordAuth('kim', 'kim-pw', challenge.body.session) },
  });
  t.is(foreign.status, 403);
  t.is(foreign.body.errcode, 'M_FORBIDDEN');
  const ok = await h.call('DELETE', '/_matrix/client/v3/devices/LAPTOP', {
    token: me.token,
    body: { auth: passwordAuth(`@jan:${SERVER_NAME}`, 'jan-pw', challenge.body.session) },
  });
  t.is(ok.status, 200);
  t.is((await h.call('GET', '/_matrix/client/v3/account/whoami', { token: laptop.accessToken })).status, 401);
  t.deepEqual((await h.accounts.listDevices(me.userId)).map((d) => d.deviceId), [me.deviceId]);
  t.deepEqual(h.deletedDevices, [`${me.userId} LAPTOP`], 'device keys are told to forget the device');
});

test('creating a device and setting its name are device list changes; a new token for an unchanged device is not', async (t) => {
  const h = await startHarness();
  t.teardown(() => h.close());
  const me = await h.user('ria', 'ria-pw');
  t.deepEqual(h.changedDevices, [`${me.userId} ${me.deviceId}`], 'the device created by login');
  h.changedDevices.length = 0;
  await h.accounts.loginWithPassword('ria', 'ria-pw', { deviceId: 'TAB', displayName: 'Tablet' });
  // The same device logging in again: a new token, the same device (no change) or a new name (a change).
  await h.accounts.loginWithPassword('ria', 'ria-pw', { deviceId: 'TAB' });
  await h.accounts.loginWithPassword('ria', 'ria-pw', { deviceId: 'TAB', displayName: 'Tablet' });
  await h.accounts.loginWithPassword('ria', 'ria-pw', { deviceId: 'TAB', displayName: 'Kitchen tablet' });
  t.deepEqual(h.changedDevices, [`${me.userId} TAB`, `${me.userId} TAB`]);
  h.changedDevices.length = 0;
  // PUT /devices/{deviceId}: a change every time it succeeds (Synapse notifies unconditionally); `{}` keeps the name.
  t.is((await h.call('PUT', '/_matrix/client/v3/devices/TAB', { token: me.token, body: { display_name: 'Hall tablet' } })).status, 200);
  t.is((await h.call('PUT', '/_matrix/client/v3/devices/TAB', { token: me.token, body: {} })).status, 200);
  t.is((await h.call('GET', '/_matrix/client/v3/devices/TAB', { token: me.token })).body.display_name, 'Hall tablet');
  t.is((await h.call('PUT', '/_matrix/client/v3/devices/NOPE', { token: me.token, body: { display_name: 'x' } })).status, 404);
  t.deepEqual(h.changedDevices, [`${me.userId} TAB`, `${me.userId} TAB`]);
});

test('delete_devices removes several devices after UIA', async (t) => {
  const h = await startHarness();
  t.teardown(() => h.close());
  const me = await h.user('lou', 'lou-pw');
  await h.accounts.loginWithPassword('lou', 'lou-pw', { deviceId: 'A' });
  await h.accounts.loginWithPassword('lou', 'lou-pw', { deviceId: 'B' });
  const challenge = await h.call('POST', '/_matrix/client/v3/delete_devices', { token: me.token, body: { devices: ['A', 'B'] } });
  t.is(challenge.status, 401);
  const ok = await h.call('POST', '/_matrix/client/v3/delete_devices', {
    token: me.token,
    body: { devices: ['A', 'B', 'UNKNOWN'], auth: passwordAuth('lou', 'lou-pw', challenge.body.session) },
  });
  t.is(ok.status, 200);
  t.deepEqual((await h.accounts.listDevices(me.userId)).map((d) => d.deviceId), [me.deviceId]);
  const bad = await h.call('POST', '/_matrix/client/v3/delete_devices', { token: me.token, body: { devices: { A: true } } });
  t.is(bad.status, 400);
  t.is(bad.body.errcode, 'M_BAD_JSON');
});

test('profile: defaults to the localpart, changes only by the owner, notifies the room engine', async (t) => {
  const h = await startHarness();
  t.teardown(() => h.close());
  const me = await h.user('mia');
  const other = await h.user('ned');
  t.deepEqual((await h.call('GET', `/_matrix/client/v3/profile/${me.userId}`)).body, { displayname: 'mia' });

  const put = await h.call('PUT', `/_matrix/client/v3/profile/${me.userId}/displayname`, { token: me.token, body: { displayname: 'Mia M.' } });
  t.is(put.status, 200);
  await h.call('PUT', `/_matrix/client/v3/profile/${me.userId}/avatar_url`, { token: me.token, body: { avatar_url: 'mxc://hearth.test/abc' } });
  t.deepEqual((await h.call('GET', `/_matrix/client/v3/profile/${encodeURIComponent(me.userId)}`)).body, {
    displayname: 'Mia M.',
    avatar_url: 'mxc://hearth.test/abc',
  });
  t.deepEqual((await h.call('GET', `/_matrix/client/v3/profile/${me.userId}/displayname`)).body, { displayname: 'Mia M.' });
  t.deepEqual(h.profileChanges, [
    { userId: me.userId, profile: { displayname: 'Mia M.' } },
    { userId: me.userId, profile: { displayname: 'Mia M.', avatar_url: 'mxc://hearth.test/abc' } },
  ]);

  const foreign = await h.call('PUT', `/_matrix/client/v3/profile/${me.userId}/displayname`, { token: other.token, body: { displayname: 'x' } });
  t.is(foreign.status, 403);
  const missing = await h.call('PUT', `/_matrix/client/v3/profile/${me.userId}/displayname`, { token: me.token, body: {} });
  t.is(missing.status, 400);
  t.is((await h.call('GET', `/_matrix/client/v3/profile/@nobody:${SERVER_NAME}`)).body.errcode, 'M_NOT_FOUND');
  t.is((await h.call('GET', `/_matrix/client/v3/profile/${other.userId}/avatar_url`)).status, 404);
});
