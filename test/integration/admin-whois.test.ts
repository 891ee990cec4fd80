/**
 * GET /admin/whois/{userId} against a running Hearth (client-server "Server Administration"): each
 * device of the user with the address, time and user agent it was last seen with; for the user
 * themselves and for server admins (made by `hearth user add --admin` while the gateway runs), 403
 * for anyone else; another server's user is 400 as Synapse answers.
 */
import test from 'ava';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { startHearth, type HearthServer } from './helpers/server.js';
import { registerUser, request } from './helpers/http.js';

let hearth: HearthServer;

test.before(async () => {
  hearth = await startHearth();
});
test.after.always(async () => {
  await hearth?.stop();
});

const whoisPath = (userId: string) => `/_matrix/client/v3/admin/whois/${encodeURIComponent(userId)}`;

test('whois lists every device with its last connection, for the user and for admins only', async (t) => {
  const alice = await registerUser(hearth.baseUrl, 'alice', 'pw-alice-whois');
  const bob = await registerUser(hearth.baseUrl, 'bob', 'pw-bob-whois');
  const startedAt = Date.now();
  await request(hearth.baseUrl, 'GET', '/_matrix/client/v3/account/whoami', { token: alice.accessToken, headers: { 'user-agent': 'AliceClient/1.0' } });
  const phone = await request(hearth.baseUrl, 'POST', '/_matrix/client/v3/login', {
    json: { type: 'm.login.password', identifier: { type: 'm.id.user', user: 'alice' }, password: 'pw-alice-whois', device_id: 'PHONE' },
  });
  t.is(phone.status, 200);

  const own = await request(hearth.baseUrl, 'GET', whoisPath(alice.userId), { token: alice.accessToken, headers: { 'user-agent': 'AliceClient/1.0' } });
  t.is(own.status, 200);
  t.is(own.body.user_id, alice.userId);
  t.deepEqual(Object.keys(own.body.devices).sort(), [alice.deviceId, 'PHONE'].sort());
  const [connection] = own.body.devices[alice.deviceId].sessions[0].connections;
  t.regex(connection.ip, /127\.0\.0\.1/);
  t.is(connection.user_agent, 'AliceClient/1.0');
  t.true(connection.last_seen >= startedAt && connection.last_seen <= Date.now());
  t.deepEqual(own.body.devices.PHONE, { sessions: [{ connections: [] }] }, 'a device that never made an authenticated request has no connection yet');

  const refused = await request(hearth.baseUrl, 'GET', whoisPath(alice.userId), { token: bob.accessToken });
  t.is(refused.status, 403);
  t.is(refused.body.errcode, 'M_FORBIDDEN');
  t.is((await request(hearth.baseUrl, 'GET', whoisPath('@carol:elsewhere.example'), { token: bob.accessToken })).body.errcode, 'M_FORBIDDEN', 'permission before anything else');

  await promisify(execFile)(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'user', 'add', 'boss', '--admin', '--password', 'pw-boss-whois'], {
    env: { ...process.env, HEARTH_DATA_DIR: hearth.dataDir },
  });
  const login = await request(hearth.baseUrl, 'POST', '/_matrix/client/v3/login', { json: { type: 'm.login.password', identifier: { type: 'm.id.user', user: 'boss' }, password: 'pw-boss-whois' } });
  const admin = login.body.access_token as string;
  const seenByAdmin = await request(hearth.baseUrl, 'GET', whoisPath(alice.userId), { token: admin });
  t.is(seenByAdmin.status, 200);
  t.deepEqual(seenByAdmin.body.devices[alice.deviceId], own.body.devices[alice.deviceId]);
  const remote = await request(hearth.baseUrl, 'GET', whoisPath('@carol:elsewhere.example'), { token: admin });
  t.is(remote.status, 400);
  t.is(remote.body.errcode, 'M_UNKNOWN');
  const legacy = await request(hearth.baseUrl, 'GET', `/_matrix/client/r0/admin/whois/${encodeURIComponent(bob.userId)}`, { token: admin });
  t.deepEqual(Object.keys(legacy.body.devices), [bob.deviceId], 'the r0 path answers too (Synapse serves it)');
});
