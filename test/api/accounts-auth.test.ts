import test from 'ava';
import { startHarness, SERVER_NAME } from '../accounts/harness.js';

test('versions, well-known and capabilities advertise what the server does', async (t) => {
  const h = await startHarness();
  t.teardown(() => h.close());
  const versions = await h.call('GET', '/_matrix/client/versions');
  t.is(versions.status, 200);
  t.true(versions.body.versions.includes('v1.1'));
  t.true(versions.body.versions.includes('v1.12'));
  t.is(versions.body.unstable_features['m.lazy_load_members'], true);

  const wk = await h.call('GET', '/.well-known/matrix/client');
  t.deepEqual(wk.body, { 'm.homeserver': { base_url: 'https://hearth.test' } });

  t.is((await h.call('GET', '/_matrix/client/v3/capabilities')).status, 401);
  const alice = await h.user('alice');
  const caps = await h.call('GET', '/_matrix/client/v3/capabilities', { token: alice.token });
  const everyVersion = Object.fromEntries(['1', '2', '3', '4', '5', '6', '7', '8', '9', '10', '11', '12'].map((v) => [v, 'stable']));
  t.deepEqual(caps.body.capabilities['m.room_versions'], { default: '12', available: everyVersion });
  t.deepEqual(caps.body.capabilities['m.change_password'], { enabled: true });
  t.deepEqual(caps.body.capabilities['m.3pid_changes'], { enabled: false });
});

test('open registration: 401 with an m.login.dummy flow and a session, then 200 with a token', async (t) => {
  const h = await startHarness('open');
  t.teardown(() => h.close());
  const first = await h.call('POST', '/_matrix/client/v3/register', { body: { username: 'bob', password: 'pw-bob-123' } });
  t.is(first.status, 401);
  t.deepEqual(first.body.flows, [{ stages: ['m.login.dummy'] }]);
  t.deepEqual(first.body.params, {});
  t.is(typeof first.body.session, 'string');
  t.is(first.body.errcode, undefined, 'a plain challenge carries no errcode');

  const second = await h.call('POST', '/_matrix/client/v3/register', {
    body: { username: 'bob', password: 'pw-bob-123', initial_device_display_name: 'Phone', auth: { type: 'm.login.dummy', session: first.body.session } },
  });
  t.is(second.status, 200);
  t.is(second.body.user_id, `@bob:${SERVER_NAME}`);
  t.is(typeof second.body.access_token, 'string');
  t.is(typeof second.body.device_id, 'string');

  const whoami = await h.call('GET', '/_matrix/client/v3/account/whoami', { token: second.body.access_token });
  t.deepEqual(whoami.body, { user_id: `@bob:${SERVER_NAME}`, device_id: second.body.device_id, is_guest: false });
  const device = await h.call('GET', `/_matrix/client/v3/devices/${second.body.device_id}`, { token: second.body.access_token });
  t.is(device.body.display_name, 'Phone');

  // The session is spent; the name is taken.
  const again = await h.call('POST', '/_matrix/client/v3/register', { body: { username: 'bob', password: 'x' } });
  t.is(again.status, 400);
  t.is(again.body.errcode, 'M_USER_IN_USE');
  const available = await h.call('GET', '/_matrix/client/v3/register/available?username=bob');
  t.is(available.body.errcode, 'M_USER_IN_USE');
  t.deepEqual((await h.call('GET', '/_matrix/client/v3/register/available?username=carol')).body, { available: true });
  const invalid = await h.call('GET', '/_matrix/client/v3/register/available?username=Not%20Valid');
  t.is(invalid.body.errcode, 'M_INVALID_USERNAME');
});

test('registration with inhibit_login returns only the user id; guests are refused', async (t) => {
  const h = await startHarness('open');
  t.teardown(() => h.close());
  const res = await h.call('POST', '/_matrix/client/v3/register', {
    body: { username: 'dave', password: 'pw', inhibit_login: true, auth: { type: 'm.login.dummy' } },
  });
  t.is(res.status, 200);
  t.deepEqual(res.body, { user_id: `@dave:${SERVER_NAME}` });
  const guest = await h.call('POST', '/_matrix/client/v3/register?kind=guest', { body: {} });
  t.is(guest.status, 403);
  t.is(guest.body.errcode, 'M_GUEST_ACCESS_FORBIDDEN');
});

test('closed registration is 403 M_FORBIDDEN', async (t) => {
  const h = await startHarness('closed');
  t.teardown(() => h.close());
  const res = await h.call('POST', '/_matrix/client/v3/register', { body: { username: 'eve', password: 'pw' } });
  t.is(res.status, 403);
  t.is(res.body.errcode, 'M_FORBIDDEN');
});

test('token registration: wrong token fails the stage, the right one registers', async (t) => {
  const h = await startHarness('token', ['letmein']);
  t.teardown(() => h.close());
  const first = await h.call('POST', '/_matrix/client/v3/register', { body: { username: 'fay', password: 'pw' } });
  t.deepEqual(first.body.flows, [{ stages: ['m.login.registration_token'] }]);
  const wrong = await h.call('POST', '/_matrix/client/v3/register', {
    body: { username: 'fay', password: 'pw', auth: { type: 'm.login.registration_token', token: 'nope', session: first.body.session } },
  });
  t.is(wrong.status, 401);
  t.is(wrong.body.errcode, 'M_FORBIDDEN');
  t.is(wrong.body.session, first.body.session);
  const dummy = await h.call('POST', '/_matrix/client/v3/register', {
    body: { username: 'fay', password: 'pw', auth: { type: 'm.login.dummy', session: first.body.session } },
  });
  t.is(dummy.status, 401, 'a stage outside the offered flows does not count');
  const right = await h.call('POST', '/_matrix/client/v3/register', {
    body: { username: 'fay', password: 'pw', auth: { type: 'm.login.registration_token', token: 'letmein', session: first.body.session } },
  });
  t.is(right.status, 200);
  t.is(right.body.user_id, `@fay:${SERVER_NAME}`);

  const valid = await h.call('GET', '/_matrix/client/v1/register/m.login.registration_token/validity?token=letmein');
  t.deepEqual(valid.body, { valid: true });
  const invalid = await h.call('GET', '/_matrix/client/v1/register/m.login.registration_token/validity?token=other');
  t.deepEqual(invalid.body, { valid: false });
});

test('login, whoami, logout; wrong password, missing and unknown tokens', async (t) => {
  const h = await startHarness();
  t.teardown(() => h.close());
  await h.accounts.createUser('gus', { password: 'secret-gus' });

  t.deepEqual((await h.call('GET', '/_matrix/client/v3/login')).body, { flows: [{ type: 'm.login.password' }] });
  const wrong = await h.call('POST', '/_matrix/client/v3/login', {
    body: { type: 'm.login.password', identifier: { type: 'm.id.user', user: 'gus' }, password: 'nope' },
  });
  t.is(wrong.status, 403);
  t.is(wrong.body.errcode, 'M_FORBIDDEN');
  const unknownUser = await h.call('POST', '/_matrix/client/v3/login', {
    body: { type: 'm.login.password', identifier: { type: 'm.id.user', user: 'nobody' }, password: 'nope' },
  });
  t.is(unknownUser.status, 403);

  const login = await h.call('POST', '/_matrix/client/v3/login', {
    body: { type: 'm.login.password', identifier: { type: 'm.id.user', user: `@gus:${SERVER_NAME}` }, password: 'secret-gus', device_id: 'KITCHEN' },
  });
  t.is(login.status, 200);
  t.is(login.body.user_id, `@gus:${SERVER_NAME}`);
  t.is(login.body.device_id, 'KITCHEN');
  t.is(login.body.home_server, SERVER_NAME);
  t.deepEqual(login.body.well_known, { 'm.homeserver': { base_url: 'https://hearth.test' } });

  // The legacy `user` field, reusing the device id: the old token of that device is revoked.
  const legacy = await h.call('POST', '/_matrix/client/v3/login', {
    body: { type: 'm.login.password', user: 'gus', password: 'secret-gus', device_id: 'KITCHEN' },
  });
  t.is(legacy.status, 200);
  t.is(legacy.body.device_id, 'KITCHEN');
  const revoked = await h.call('GET', '/_matrix/client/v3/account/whoami', { token: login.body.access_token });
  t.is(revoked.status, 401);
  t.is(revoked.body.errcode, 'M_UNKNOWN_TOKEN');
  t.is(revoked.body.soft_logout, false);

  const missing = await h.call('GET', '/_matrix/client/v3/account/whoami');
  t.is(missing.status, 401);
  t.is(missing.body.errcode, 'M_MISSING_TOKEN');
  const viaQuery = await h.call('GET', `/_matrix/client/v3/account/whoami?access_token=${legacy.body.access_token}`);
  t.is(viaQuery.body.user_id, `@gus:${SERVER_NAME}`);

  const badType = await h.call('POST', '/_matrix/client/v3/login', { body: { type: 'm.login.token', token: 'x' } });
  t.is(badType.status, 400);
  const badJson = await h.call('POST', '/_matrix/client/v3/login', { body: { password: 'x' } });
  t.is(badJson.status, 400);
  t.is(badJson.body.errcode, 'M_BAD_JSON');

  t.is((await h.call('POST', '/_matrix/client/v3/logout', { token: legacy.body.access_token })).status, 200);
  t.is((await h.call('GET', '/_matrix/client/v3/account/whoami', { token: legacy.body.access_token })).body.errcode, 'M_UNKNOWN_TOKEN');
  t.deepEqual(await h.accounts.listDevices(`@gus:${SERVER_NAME}`), [], 'logout deletes the device');
});

test('logout/all revokes every token of the user', async (t) => {
  const h = await startHarness();
  t.teardown(() => h.close());
  const a = await h.user('hal');
  const b = await h.accounts.loginWithPassword('hal', 'correct horse');
  t.is((await h.call('POST', '/_matrix/client/v3/logout/all', { token: a.token })).status, 200);
  t.is((await h.call('GET', '/_matrix/client/v3/account/whoami', { token: a.token })).status, 401);
  t.is((await h.call('GET', '/_matrix/client/v3/account/whoami', { token: b.accessToken })).status, 401);
});

test('password change needs the old password and logs out other devices', async (t) => {
  const h = await startHarness();
  t.teardown(() => h.close());
  const me = await h.user('ivy', 'old-password');
  const other = await h.accounts.loginWithPassword('ivy', 'old-password');
  const challenge = await h.call('POST', '/_matrix/client/v3/account/password', { token: me.token, body: { new_password: 'new-password' } });
  t.is(challenge.status, 401);
  t.deepEqual(challenge.body.flows, [{ stages: ['m.login.password'] }]);
  const wrong = await h.call('POST', '/_matrix/client/v3/account/password', {
    token: me.token,
    body: { new_password: 'new-password', auth: { type: 'm.login.password', identifier: { type: 'm.id.user', user: 'ivy' }, password: 'bad', session: challenge.body.session } },
  });
  t.is(wrong.status, 401);
  t.is(wrong.body.errcode, 'M_FORBIDDEN');
  const ok = await h.call('POST', '/_matrix/client/v3/account/password', {
    token: me.token,
    body: { new_password: 'new-password', auth: { type: 'm.login.password', identifier: { type: 'm.id.user', user: 'ivy' }, password: 'old-password', session: challenge.body.session } },
  });
  t.is(ok.status, 200);
  t.is((await h.call('GET', '/_matrix/client/v3/account/whoami', { token: me.token })).status, 200, 'the requesting device stays');
  t.is((await h.call('GET', '/_matrix/client/v3/account/whoami', { token: other.accessToken })).status, 401);
  t.true(await h.accounts.checkPassword(me.userId, 'new-password'));
  t.false(await h.accounts.checkPassword(me.userId, 'old-password'));
});

test('deactivation: password UIA, rooms left, then no token, no login, no profile, and the name stays taken', async (t) => {
  const h = await startHarness();
  t.teardown(() => h.close());
  const me = await h.user('zoe', 'zoe-password');
  await h.call('PUT', `/_matrix/client/v3/profile/${encodeURIComponent(me.userId)}/displayname`, { token: me.token, body: { displayname: 'Zoe' } });
  h.joined.add(`${me.userId}\u0000!garden:hearth.test`);
  const challenge = await h.call('POST', '/_matrix/client/v3/account/deactivate', { token: me.token, body: {} });
  t.is(challenge.status, 401);
  t.deepEqual(challenge.body.flows, [{ stages: ['m.login.password'] }]);
  const auth = (password: string) => ({ type: 'm.login.password', identifier: { type: 'm.id.user', user: 'zoe' }, password, session: challenge.body.session });
  const wrong = await h.call('POST', '/_matrix/client/v3/account/deactivate', { token: me.token, body: { auth: auth('nope') } });
  t.is(wrong.status, 401);
  t.deepEqual(h.leftAllRooms, [], 'nothing happens without the password');
  t.is((await h.call('POST', '/_matrix/client/v3/account/deactivate', { token: me.token, body: { auth: auth('zoe-password'), erase: 'yes' } })).status, 400);

  const done = await h.call('POST', '/_matrix/client/v3/account/deactivate', { token: me.token, body: { auth: auth('zoe-password'), erase: true } });
  t.is(done.status, 200);
  t.deepEqual(done.body, { id_server_unbind_result: 'no-support' });
  t.deepEqual(h.leftAllRooms, [me.userId]);
  t.is(h.joined.size, 0);
  const whoami = await h.call('GET', '/_matrix/client/v3/account/whoami', { token: me.token });
  t.is(whoami.status, 401);
  t.is(whoami.body.errcode, 'M_UNKNOWN_TOKEN');
  const login = await h.call('POST', '/_matrix/client/v3/login', { body: { type: 'm.login.password', identifier: { type: 'm.id.user', user: 'zoe' }, password: 'zoe-password' } });
  t.is(login.status, 403);
  t.is((await h.call('GET', `/_matrix/client/v3/profile/${encodeURIComponent(me.userId)}`, { token: (await h.user('yann')).token })).status, 404);
  t.is((await h.call('GET', '/_matrix/client/v3/register/available?username=zoe')).body.errcode, 'M_USER_IN_USE');
});

test('a device id with NUL is refused at login (400 M_BAD_JSON): device ids are parts of storage keys', async (t) => {
  const h = await startHarness();
  t.teardown(() => h.close());
  await h.user('carol', 'pw-carol-123');
  const bad = await h.call('POST', '/_matrix/client/v3/login', {
    body: { type: 'm.login.password', identifier: { type: 'm.id.user', user: 'carol' }, password: 'pw-carol-123', device_id: 'PHONE\u0000TABLET' },
  });
  t.is(bad.status, 400);
  t.is(bad.body.errcode, 'M_BAD_JSON');
  const good = await h.call('POST', '/_matrix/client/v3/login', {
    body: { type: 'm.login.password', identifier: { type: 'm.id.user', user: 'carol' }, password: 'pw-carol-123', device_id: 'PHONE' },
  });
  t.is(good.body.device_id, 'PHONE');
});
