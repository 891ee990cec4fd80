import test from 'ava';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AccountService } from '../../src/accounts/accounts.js';
import { adminSocketPath, callAdminSocket, startAdminSocket } from '../../src/admin/socket.js';
import { runUserCommand, userAdminHandlers } from '../../src/cli/user.js';
import { defaultConfig, type HearthConfig } from '../../src/config/config.js';
import { StreamNotifier } from '../../src/stream/notifier.js';
import { Database } from '../../src/storage/db.js';

async function tempConfig(): Promise<HearthConfig> {
  const dir = await mkdtemp(join(tmpdir(), 'hearth-user-cmd-'));
  return { ...defaultConfig(dir), serverName: 'home.test' };
}

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { out: (l: string) => out.push(l), err: (l: string) => err.push(l) } };
}

test('user add with the gateway stopped writes the database directly and prints a generated password', async (t) => {
  const config = await tempConfig();
  t.teardown(() => rm(config.dataDir, { recursive: true, force: true }));
  const c = capture();
  t.is(await runUserCommand(['add', 'alice', '--admin'], { config, ...c.io }), 0);
  t.is(c.out[0], '@alice:home.test');
  const password = /^password: (\S+)$/.exec(c.out[1] ?? '')?.[1];
  t.truthy(password);

  const db = await Database.open(join(config.dataDir, 'db'), config.storage);
  t.teardown(() => db.close());
  const accounts = new AccountService(db, config, new StreamNotifier(0));
  t.true(await accounts.checkPassword('@alice:home.test', password!));
  t.deepEqual(await accounts.listAdmins(), ['@alice:home.test']);
});

test('user add while the gateway holds the database goes through the admin socket', async (t) => {
  const config = await tempConfig();
  const db = await Database.open(join(config.dataDir, 'db'), config.storage);
  const accounts = new AccountService(db, config, new StreamNotifier(0));
  const socket = await startAdminSocket(adminSocketPath(config.dataDir), userAdminHandlers(accounts, { leaveAllRooms: async () => undefined }));
  t.teardown(async () => {
    await socket.close();
    await db.close();
    await rm(config.dataDir, { recursive: true, force: true });
  });

  const c = capture();
  t.is(await runUserCommand(['add', '@bob:home.test', '--password', 'given-pw'], { config, ...c.io }), 0);
  t.deepEqual(c.out, ['@bob:home.test'], 'a given password is not echoed');
  t.true(await accounts.checkPassword('@bob:home.test', 'given-pw'));
  t.deepEqual(await accounts.listAdmins(), []);

  const dup = capture();
  t.is(await runUserCommand(['add', 'bob', '--password', 'x'], { config, ...dup.io }), 1);
  t.regex(dup.err[0]!, /already taken/);

  await t.throwsAsync(callAdminSocket(adminSocketPath(config.dataDir), { op: 'no.such.op' }), { message: /unknown operation/ });
});

test('user add rejects bad usage', async (t) => {
  const config = await tempConfig();
  t.teardown(() => rm(config.dataDir, { recursive: true, force: true }));
  for (const argv of [[], ['add'], ['add', 'x', '--password'], ['remove', 'x'], ['add', 'x', '--bogus'], ['list', 'x'], ['list', '--admin'], ['reset-password'], ['deactivate'], ['deactivate', 'x', '--password', 'p']]) {
    const c = capture();
    t.is(await runUserCommand(argv, { config, ...c.io }), 2, argv.join(' '));
    t.regex(c.err[0]!, /^usage:/);
  }
});

test('user list and reset-password with the gateway stopped; deactivate asks for the running gateway', async (t) => {
  const config = await tempConfig();
  t.teardown(() => rm(config.dataDir, { recursive: true, force: true }));
  t.is(await runUserCommand(['add', 'alice', '--admin', '--password', 'old-pw'], { config, ...capture().io }), 0);
  t.is(await runUserCommand(['add', 'bob', '--password', 'bob-pw'], { config, ...capture().io }), 0);

  const list = capture();
  t.is(await runUserCommand(['list'], { config, ...list.io }), 0);
  t.deepEqual(list.out, ['@alice:home.test\tperson\tadmin', '@bob:home.test\tperson']);
  const json = capture();
  t.is(await runUserCommand(['list', '--json'], { config, ...json.io }), 0);
  t.deepEqual(JSON.parse(json.out.join('\n')), [
    { userId: '@alice:home.test', admin: true, kind: 'user', deactivated: false },
    { userId: '@bob:home.test', admin: false, kind: 'user', deactivated: false },
  ]);

  const reset = capture();
  t.is(await runUserCommand(['reset-password', 'alice'], { config, ...reset.io }), 0);
  t.is(reset.out[0], '@alice:home.test');
  const password = /^password: (\S+)$/.exec(reset.out[1] ?? '')?.[1];
  t.truthy(password);
  t.regex(reset.out[2]!, /sessions already logged in stay logged in/);

  const deactivate = capture();
  t.is(await runUserCommand(['deactivate', 'bob'], { config, ...deactivate.io }), 1);
  t.regex(deactivate.err[0]!, /start it, then run this again/);
  const unknown = capture();
  t.is(await runUserCommand(['reset-password', 'carol', '--password', 'x'], { config, ...unknown.io }), 1);
  t.regex(unknown.err[0]!, /no account @carol:home.test/);

  const db = await Database.open(join(config.dataDir, 'db'), config.storage);
  t.teardown(() => db.close());
  const accounts = new AccountService(db, config, new StreamNotifier(0));
  t.true(await accounts.checkPassword('@alice:home.test', password!));
  t.false(await accounts.checkPassword('@alice:home.test', 'old-pw'));
  t.false((await accounts.getUser('@bob:home.test'))!.deactivated === true);
});

test('user reset-password and deactivate through the running gateway log out devices and leave rooms', async (t) => {
  const config = await tempConfig();
  const db = await Database.open(join(config.dataDir, 'db'), config.storage);
  const accounts = new AccountService(db, config, new StreamNotifier(0));
  const left: string[] = [];
  const socket = await startAdminSocket(adminSocketPath(config.dataDir), userAdminHandlers(accounts, { leaveAllRooms: async (userId) => void left.push(userId) }));
  t.teardown(async () => {
    await socket.close();
    await db.close();
    await rm(config.dataDir, { recursive: true, force: true });
  });
  await accounts.createUser('alice', { password: 'alice-pw' });
  await accounts.createUser('bob', { password: 'bob-pw' });
  const aliceSession = await accounts.createDeviceAndToken('@alice:home.test');
  const bobSession = await accounts.createDeviceAndToken('@bob:home.test');

  const reset = capture();
  t.is(await runUserCommand(['reset-password', '@alice:home.test', '--password', 'new-pw'], { config, ...reset.io }), 0);
  t.deepEqual(reset.out, ['@alice:home.test']);
  t.true(await accounts.checkPassword('@alice:home.test', 'new-pw'));
  t.is(await accounts.authenticateToken(aliceSession.accessToken), undefined, 'logged out');
  t.deepEqual(await accounts.listDevices('@alice:home.test'), []);

  const deactivate = capture();
  t.is(await runUserCommand(['deactivate', 'bob'], { config, ...deactivate.io }), 0);
  t.regex(deactivate.out[0]!, /^@bob:home.test deactivated/);
  t.deepEqual(left, ['@bob:home.test']);
  t.is(await accounts.authenticateToken(bobSession.accessToken), undefined, 'token revoked');
  t.deepEqual(await accounts.listDevices('@bob:home.test'), []);
  t.false(await accounts.checkPassword('@bob:home.test', 'bob-pw'));

  const list = capture();
  t.is(await runUserCommand(['list'], { config, ...list.io }), 0);
  t.deepEqual(list.out, ['@alice:home.test\tperson', '@bob:home.test\tperson\tdeactivated']);
  const again = capture();
  t.is(await runUserCommand(['deactivate', 'bob'], { config, ...again.io }), 1);
  t.regex(again.err[0]!, /is deactivated/);
});
