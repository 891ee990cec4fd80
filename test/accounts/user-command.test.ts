import test from 'ava';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AccountService } from '../../src/accounts/accounts.js';
import { adminSocketPath, callAdminSocket, startAdminSocket } from '../../src/cli/admin-socket.js';
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
  const socket = await startAdminSocket(adminSocketPath(config.dataDir), userAdminHandlers(accounts));
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
  for (const argv of [[], ['add'], ['add', 'x', '--password'], ['remove', 'x'], ['add', 'x', '--bogus']]) {
    const c = capture();
    t.is(await runUserCommand(argv, { config, ...c.io }), 2, argv.join(' '));
    t.regex(c.err[0]!, /^usage:/);
  }
});
