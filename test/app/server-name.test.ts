/**
 * settleServerName (src/app/server-name.ts) on a real database: the first call records the name,
 * later calls use the recorded one or refuse a configured other one, and a data directory from
 * before the record existed is named by its accounts.
 */
import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ServerNameMismatchError, settleServerName } from '../../src/app/server-name.js';
import { defaultConfig, type ServerNameSource } from '../../src/config/config.js';
import { tuple } from '../../src/storage/codec.js';
import { Database } from '../../src/storage/db.js';

async function openDb(t: { teardown(fn: () => unknown): void }) {
  const dir = mkdtempSync(join(tmpdir(), 'hearth-server-name-unit-'));
  const db = await Database.open(join(dir, 'db'), defaultConfig(dir).storage);
  t.teardown(async () => {
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { db, dataDir: dir };
}

const named = (dataDir: string, serverName: string, serverNameSource: ServerNameSource) => ({ dataDir, serverName, serverNameSource });

test('the first call records the name; the default name then yields to it', async (t) => {
  const { db, dataDir } = await openDb(t);
  t.is(await settleServerName(db, named(dataDir, 'localhost:8008', 'default')), 'localhost:8008');
  t.is(await db.getMeta<string>('server_name'), 'localhost:8008');
  t.is(await settleServerName(db, named(dataDir, 'localhost:38008', 'default')), 'localhost:8008');
  t.is(await settleServerName(db, named(dataDir, 'localhost:8008', 'hearth.yaml')), 'localhost:8008');
});

test('a configured name other than the recorded one is refused with both names', async (t) => {
  const { db, dataDir } = await openDb(t);
  await settleServerName(db, named(dataDir, 'home.example', 'hearth.yaml'));
  const refused = await t.throwsAsync(settleServerName(db, named(dataDir, 'other.example', 'hearth.yaml')), { instanceOf: ServerNameMismatchError });
  t.is(refused?.recorded, 'home.example');
  t.is(refused?.configured, 'other.example');
  t.regex(refused?.message ?? '', /server_name in .*hearth\.yaml is "other\.example"/);
  t.is(await db.getMeta<string>('server_name'), 'home.example', 'the record stays');
});

test('a data directory with accounts but no record is named by the accounts', async (t) => {
  const { db, dataDir } = await openDb(t);
  // As a data directory of an older Hearth: an account, no meta/server_name.
  await db.write([db.putJson('users', tuple('@alice:localhost:8008'), { userId: '@alice:localhost:8008', admin: true, kind: 'user', createdAt: 1 })]);
  t.is(await settleServerName(db, named(dataDir, 'localhost:38008', 'default')), 'localhost:8008');
  t.is(await db.getMeta<string>('server_name'), 'localhost:8008');
  await t.throwsAsync(settleServerName(db, named(dataDir, 'home.example', 'environment')), { message: /HEARTH_SERVER_NAME is "home\.example"/ });
});
