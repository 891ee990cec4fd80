/**
 * An unknown user costs a login exactly what a known one does (issue 10, finding 3: 0.5 ms against
 * 60 ms told who exists): one password hash each, counted by the hashing queue rather than timed.
 * The same for accounts without a password and for deactivated ones.
 */
import test from 'ava';
import { passwordHashingStats } from '../../src/accounts/password.js';
import { startHarness } from './harness.js';

const login = (user: string, password: string) => ({
  body: { type: 'm.login.password', identifier: { type: 'm.id.user', user }, password },
});

test.serial('unknown, known, password-less and deactivated accounts each cost one password hash', async (t) => {
  const h = await startHarness();
  t.teardown(() => h.close());
  await h.accounts.createUser('known', { password: 'right-password' });
  await h.accounts.createUser('nopassword');
  await h.accounts.createUser('gone', { password: 'gone-password' });
  await h.accounts.deactivate(`@gone:${h.config.serverName}`);

  const hashesFor = async (user: string, password: string) => {
    const before = passwordHashingStats().completed;
    const res = await h.call('POST', '/_matrix/client/v3/login', login(user, password));
    return { status: res.status, errcode: res.body.errcode, hashes: passwordHashingStats().completed - before };
  };
  const known = await hashesFor('known', 'wrong-password');
  const unknown = await hashesFor('nobody-by-this-name', 'wrong-password');
  const foreign = await hashesFor('@someone:elsewhere.example', 'wrong-password');
  const noPassword = await hashesFor('nopassword', 'anything');
  const deactivated = await hashesFor('gone', 'gone-password');
  t.deepEqual(known, { status: 403, errcode: 'M_FORBIDDEN', hashes: 1 });
  t.deepEqual(unknown, known, 'same answer, same work');
  t.deepEqual(foreign, known);
  t.deepEqual(noPassword, known);
  t.deepEqual(deactivated, { status: 403, errcode: 'M_USER_DEACTIVATED', hashes: 1 });
  t.true(await h.accounts.checkPassword(`@known:${h.config.serverName}`, 'right-password'));
  const before = passwordHashingStats().completed;
  t.false(await h.accounts.checkPassword(`@nobody:${h.config.serverName}`, 'x'));
  t.is(passwordHashingStats().completed - before, 1, 'UIA password checks too');
});
