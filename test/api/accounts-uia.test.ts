/**
 * User-Interactive Authentication as clients written against Synapse see it (client-server-api
 * "User-Interactive Authentication API", "Account registration"): sessions remember the request
 * that started them, are bound to its operation, and a completed registration can be retried.
 */
import test from 'ava';
import { startHarness, SERVER_NAME } from '../accounts/harness.js';

const REGISTER = '/_matrix/client/v3/register';

const passwordAuth = (user: string, password: string, session: string) => ({
  type: 'm.login.password',
  identifier: { type: 'm.id.user', user },
  password,
  session,
});

test('registration remembers the first request: username, non-ASCII password, device id and name', async (t) => {
  const h = await startHarness('open');
  t.teardown(() => h.close());
  const password = 'Grüße, 密码 🔑';
  const first = await h.call('POST', REGISTER, {
    body: { username: 'ada', password, device_id: 'PHONE', initial_device_display_name: 'Ada phone' },
  });
  t.is(first.status, 401);
  // The second request carries only the auth dict, as Element and matrix-js-sdk's InteractiveAuth do.
  const second = await h.call('POST', REGISTER, { body: { auth: { type: 'm.login.dummy', session: first.body.session } } });
  t.is(second.status, 200, JSON.stringify(second.body));
  t.is(second.body.user_id, `@ada:${SERVER_NAME}`);
  t.is(second.body.device_id, 'PHONE');
  const device = await h.call('GET', '/_matrix/client/v3/devices/PHONE', { token: second.body.access_token });
  t.is(device.body.display_name, 'Ada phone');

  const login = await h.call('POST', '/_matrix/client/v3/login', {
    body: { type: 'm.login.password', identifier: { type: 'm.id.user', user: 'ada' }, password },
  });
  t.is(login.status, 200, 'the non-ASCII password of the first request is the account password');
  t.is(login.body.user_id, `@ada:${SERVER_NAME}`);
  const wrong = await h.call('POST', '/_matrix/client/v3/login', {
    body: { type: 'm.login.password', identifier: { type: 'm.id.user', user: 'ada' }, password: 'Grusse, 密码 🔑' },
  });
  t.is(wrong.status, 403);
});

test('registration remembers inhibit_login from the first request', async (t) => {
  const h = await startHarness('open');
  t.teardown(() => h.close());
  const first = await h.call('POST', REGISTER, { body: { username: 'bea', password: 'pw-bea', inhibit_login: true } });
  t.is(first.status, 401);
  const second = await h.call('POST', REGISTER, { body: { auth: { type: 'm.login.dummy', session: first.body.session } } });
  t.is(second.status, 200);
  t.deepEqual(second.body, { user_id: `@bea:${SERVER_NAME}` });
});

test('a completed registration session retried gives the same user, not a second account', async (t) => {
  const h = await startHarness('open');
  t.teardown(() => h.close());
  // No username: the server picks one, so a second account would have another id.
  const first = await h.call('POST', REGISTER, { body: { password: 'pw-anon' } });
  const auth = { type: 'm.login.dummy', session: first.body.session };
  const done = await h.call('POST', REGISTER, { body: { password: 'pw-anon', auth } });
  t.is(done.status, 200);
  const retry = await h.call('POST', REGISTER, { body: { password: 'pw-anon', auth } });
  t.is(retry.status, 200, JSON.stringify(retry.body));
  t.is(retry.body.user_id, done.body.user_id);
  t.is(typeof retry.body.access_token, 'string');

  // With a username, the retry is not "user in use": the name is this session's own.
  const named = await h.call('POST', REGISTER, { body: { username: 'cy', password: 'pw-cy' } });
  const namedAuth = { type: 'm.login.dummy', session: named.body.session };
  t.is((await h.call('POST', REGISTER, { body: { username: 'cy', password: 'pw-cy', auth: namedAuth } })).status, 200);
  const namedRetry = await h.call('POST', REGISTER, { body: { username: 'cy', password: 'pw-cy', auth: namedAuth } });
  t.is(namedRetry.status, 200, JSON.stringify(namedRetry.body));
  t.is(namedRetry.body.user_id, `@cy:${SERVER_NAME}`);
  // Someone else asking for the name is still refused.
  const other = await h.call('POST', REGISTER, { body: { username: 'cy', password: 'x', auth: { type: 'm.login.dummy' } } });
  t.is(other.body.errcode, 'M_USER_IN_USE');
});

test('a UIA session cannot complete another operation: 403 M_FORBIDDEN', async (t) => {
  const h = await startHarness('open');
  t.teardown(() => h.close());
  const me = await h.user('dan', 'dan-pw');
  await h.accounts.loginWithPassword('dan', 'dan-pw', { deviceId: 'A' });
  await h.accounts.loginWithPassword('dan', 'dan-pw', { deviceId: 'B' });
  const forA = await h.call('DELETE', '/_matrix/client/v3/devices/A', { token: me.token });
  t.is(forA.status, 401);
  const session = forA.body.session as string;

  const onB = await h.call('DELETE', '/_matrix/client/v3/devices/B', { token: me.token, body: { auth: passwordAuth('dan', 'dan-pw', session) } });
  t.is(onB.status, 403);
  t.is(onB.body.errcode, 'M_FORBIDDEN');
  const onBulk = await h.call('POST', '/_matrix/client/v3/delete_devices', {
    token: me.token,
    body: { devices: ['B'], auth: passwordAuth('dan', 'dan-pw', session) },
  });
  t.is(onBulk.status, 403);
  const onPassword = await h.call('POST', '/_matrix/client/v3/account/password', {
    token: me.token,
    body: { new_password: 'other', auth: passwordAuth('dan', 'dan-pw', session) },
  });
  t.is(onPassword.status, 403);
  const registration = await h.call('POST', REGISTER, { body: { username: 'eli', password: 'pw' } });
  const onRegistration = await h.call('POST', '/_matrix/client/v3/account/password', {
    token: me.token,
    body: { new_password: 'other', auth: { type: 'm.login.dummy', session: registration.body.session } },
  });
  t.is(onRegistration.status, 403);
  t.deepEqual((await h.accounts.listDevices(me.userId)).map((d) => d.deviceId).sort(), ['A', 'B', me.deviceId].sort());
  t.true(await h.accounts.checkPassword(me.userId, 'dan-pw'));

  // The session still completes the operation it was started for.
  const onA = await h.call('DELETE', '/_matrix/client/v3/devices/A', { token: me.token, body: { auth: passwordAuth('dan', 'dan-pw', session) } });
  t.is(onA.status, 200);
  t.deepEqual((await h.accounts.listDevices(me.userId)).map((d) => d.deviceId).sort(), ['B', me.deviceId].sort());
});

test('a wrong password: 401 with the flows, the session, completed and M_FORBIDDEN', async (t) => {
  const h = await startHarness();
  t.teardown(() => h.close());
  const me = await h.user('fio', 'fio-pw');
  await h.accounts.loginWithPassword('fio', 'fio-pw', { deviceId: 'OLD' });
  const challenge = await h.call('DELETE', '/_matrix/client/v3/devices/OLD', { token: me.token });
  t.is(challenge.body.completed, undefined, 'a first challenge has no completed (as Synapse)');
  const wrong = await h.call('DELETE', '/_matrix/client/v3/devices/OLD', {
    token: me.token,
    body: { auth: passwordAuth('fio', 'not-it', challenge.body.session) },
  });
  t.is(wrong.status, 401);
  t.deepEqual(wrong.body, {
    errcode: 'M_FORBIDDEN',
    error: 'Invalid username or password',
    flows: [{ stages: ['m.login.password'] }],
    params: {},
    session: challenge.body.session,
    completed: [],
  });
});

test("another user's password on DELETE /devices/{id} is 403 M_FORBIDDEN, and the session stays usable", async (t) => {
  const h = await startHarness();
  t.teardown(() => h.close());
  const me = await h.user('gus', 'gus-pw');
  await h.user('hal', 'hal-pw');
  await h.accounts.loginWithPassword('gus', 'gus-pw', { deviceId: 'TAB' });
  const challenge = await h.call('DELETE', '/_matrix/client/v3/devices/TAB', { token: me.token });
  const foreign = await h.call('DELETE', '/_matrix/client/v3/devices/TAB', {
    token: me.token,
    body: { auth: passwordAuth('hal', 'hal-pw', challenge.body.session) },
  });
  t.is(foreign.status, 403);
  t.deepEqual(foreign.body, { errcode: 'M_FORBIDDEN', error: 'Invalid auth' });
  t.truthy(await h.accounts.getDevice(me.userId, 'TAB'));
  // Another user's wrong password is just a wrong password.
  const foreignWrong = await h.call('DELETE', '/_matrix/client/v3/devices/TAB', {
    token: me.token,
    body: { auth: passwordAuth('hal', 'nope', challenge.body.session) },
  });
  t.is(foreignWrong.status, 401);
  t.is(foreignWrong.body.errcode, 'M_FORBIDDEN');
  const own = await h.call('DELETE', '/_matrix/client/v3/devices/TAB', {
    token: me.token,
    body: { auth: passwordAuth('gus', 'gus-pw', challenge.body.session) },
  });
  t.is(own.status, 200);
  t.is(await h.accounts.getDevice(me.userId, 'TAB'), undefined);
});
