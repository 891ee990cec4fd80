import test from 'ava';
import { hashPassword, verifyPassword } from '../../src/accounts/password.js';

test('scrypt hashes are salted, carry their parameters and verify', async (t) => {
  const a = await hashPassword('hunter2');
  const b = await hashPassword('hunter2');
  t.not(a, b, 'a fresh salt every time');
  t.regex(a, /^scrypt\$16384\$8\$1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/);
  t.true(await verifyPassword('hunter2', a));
  t.false(await verifyPassword('hunter3', a));
  t.false(await verifyPassword('hunter2', 'not-a-hash'));
  t.false(await verifyPassword('hunter2', 'scrypt$0$8$1$AAAA$AAAA'));
});

test('hashes made with other parameters still verify', async (t) => {
  const { scryptSync, randomBytes } = await import('node:crypto');
  const salt = randomBytes(16);
  const key = scryptSync('pw', salt, 32, { N: 1024, r: 8, p: 1 });
  t.true(await verifyPassword('pw', `scrypt$1024$8$1$${salt.toString('base64')}$${key.toString('base64')}`));
});
