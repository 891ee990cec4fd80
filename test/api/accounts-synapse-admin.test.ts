import test from 'ava';
import { sharedSecretMac } from '../../src/accounts/shared-secret.js';
import { startHarness, SERVER_NAME, SHARED_SECRET } from '../accounts/harness.js';

const URL = '/_synapse/admin/v1/register';

test('shared-secret registration with a correct MAC creates an admin that can log in', async (t) => {
  const h = await startHarness('closed');
  t.teardown(() => h.close());
  const { body: { nonce } } = await h.call('GET', URL);
  t.is(typeof nonce, 'string');
  const mac = sharedSecretMac(SHARED_SECRET, { nonce, username: 'root', password: 'root-pw', admin: true });
  const res = await h.call('POST', URL, { body: { nonce, username: 'root', password: 'root-pw', admin: true, mac } });
  t.is(res.status, 200);
  t.is(res.body.user_id, `@root:${SERVER_NAME}`);
  t.is(res.body.home_server, SERVER_NAME);
  const whoami = await h.call('GET', '/_matrix/client/v3/account/whoami', { token: res.body.access_token });
  t.is(whoami.body.device_id, res.body.device_id);
  t.deepEqual(await h.accounts.listAdmins(), [`@root:${SERVER_NAME}`]);
  t.true(await h.accounts.checkPassword(`@root:${SERVER_NAME}`, 'root-pw'));

  // A nonce is single-use.
  const replay = await h.call('POST', URL, { body: { nonce, username: 'root2', password: 'root-pw', admin: true, mac } });
  t.is(replay.status, 400);
});

test('shared-secret registration refuses a wrong MAC and an unknown nonce', async (t) => {
  const h = await startHarness('closed');
  t.teardown(() => h.close());
  const { body: { nonce } } = await h.call('GET', URL);
  // MAC computed for notadmin, request claims admin.
  const mac = sharedSecretMac(SHARED_SECRET, { nonce, username: 'mallory', password: 'pw', admin: false });
  const wrong = await h.call('POST', URL, { body: { nonce, username: 'mallory', password: 'pw', admin: true, mac } });
  t.is(wrong.status, 403);
  t.is(wrong.body.errcode, 'M_FORBIDDEN');
  t.is(await h.accounts.getUser(`@mallory:${SERVER_NAME}`), undefined);
  const wrongKey = sharedSecretMac('other-secret', { nonce: 'made-up', username: 'm', password: 'pw', admin: false });
  const unknown = await h.call('POST', URL, { body: { nonce: 'made-up', username: 'm', password: 'pw', admin: false, mac: wrongKey } });
  t.is(unknown.status, 400);
  // An independent vector, from Python: hmac.new(b'key', b'n\0u\0p\0notadmin', hashlib.sha1).hexdigest().
  t.is(sharedSecretMac('key', { nonce: 'n', username: 'u', password: 'p', admin: false }), '723d56efdd0e9ba3351f1fb6a593071a292c7dad');
});
