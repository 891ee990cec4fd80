/** GET /voip/turnServer: TURN REST credentials coturn's use-auth-secret accepts, and no TURN server configured. */
import test from 'ava';
import { createHmac } from 'node:crypto';
import { turnCredentials } from '../../src/accounts/turn.js';
import { startHarness } from '../accounts/harness.js';

const TURN = { uris: ['turn:turn.home.test:3478?transport=udp', 'turn:turn.home.test:3478?transport=tcp'], sharedSecret: 'north', userLifetimeSeconds: 86400 };

test('credentials: "<expiry>:<user id>" and base64 HMAC-SHA1 of it (value from Python\'s hmac)', (t) => {
  const creds = turnCredentials(TURN, '@alice:home.test', (1700086400 - 86400) * 1000);
  t.deepEqual(creds, { username: '1700086400:@alice:home.test', password: '6oTDI2hXGU4+AsnB4j4HCQ2QLTY=', uris: TURN.uris, ttl: 86400 });
});

test('the endpoint hands out fresh credentials for the caller; 404 without a TURN server; 401 without a token', async (t) => {
  const h = await startHarness('open', [], { turn: TURN });
  t.teardown(() => h.close());
  const alice = await h.user('alice');
  const before = Math.floor(Date.now() / 1000);
  const res = await h.call('GET', '/_matrix/client/v3/voip/turnServer', { token: alice.token });
  t.is(res.status, 200);
  const [expiry, userId] = res.body.username.split(/:(.*)/s);
  t.is(userId, alice.userId);
  t.true(Number(expiry) >= before + 86400 && Number(expiry) <= before + 86400 + 5);
  t.is(res.body.password, createHmac('sha1', 'north').update(res.body.username).digest('base64'));
  t.deepEqual(res.body.uris, TURN.uris);
  t.is(res.body.ttl, 86400);
  t.is((await h.call('GET', '/_matrix/client/v3/voip/turnServer')).status, 401);

  const none = await startHarness();
  t.teardown(() => none.close());
  const bob = await none.user('bob');
  const missing = await none.call('GET', '/_matrix/client/v3/voip/turnServer', { token: bob.token });
  t.is(missing.status, 404);
  t.is(missing.body.errcode, 'M_NOT_FOUND');
  t.regex(missing.body.error, /TURN/);
});
