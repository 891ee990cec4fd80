/** firstAccountHint: what `hearth run` says on a gateway nobody can log in to yet. */
import test from 'ava';
import { firstAccountHint } from '../../src/app/first-account-hint.js';

const base = { dataDir: '/home/pi/hearth/data', cwd: '/home/pi/hearth', clientUrl: 'http://127.0.0.1:8008', command: 'npx hearth' };

test('registration closed: the next step is user add --admin, in the default data directory', (t) => {
  t.is(
    firstAccountHint({ ...base, registration: 'closed' }),
    'hearth: no accounts yet, and registration is closed. Next: npx hearth user add NAME --admin (prints the password), then log in with a Matrix client at http://127.0.0.1:8008',
  );
});

test('another data directory is named in the command, so it reaches the same database', (t) => {
  t.regex(
    firstAccountHint({ ...base, registration: 'closed', dataDir: '/var/lib/hearth', command: 'hearth' }),
    /Next: HEARTH_DATA_DIR=\/var\/lib\/hearth hearth user add NAME --admin /,
  );
});

test('token and open registration say how people get in', (t) => {
  t.regex(firstAccountHint({ ...base, registration: 'token' }), /registration needs a token \(registration\.tokens in hearth\.yaml\)\. For the first admin: npx hearth user add NAME --admin/);
  t.regex(firstAccountHint({ ...base, registration: 'open' }), /register with a Matrix client at http:\/\/127\.0\.0\.1:8008, or make an admin with npx hearth user add NAME --admin/);
});
