/**
 * The database after I/O faults (issue 10, finding 4): a write that fails with an I/O error marks
 * storage failing, later writes are refused with 503 at once (LevelDB latches its error), and a
 * recovery (reopen, then a synced probe) makes writes work again without a restart. A table file
 * cut short is found at open, with the repair path in the message.
 */
import test from 'ava';
import { cp, mkdtemp, readdir, readFile, rm, stat, truncate } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Database, DatabaseDamagedError } from '../../src/storage/db.js';
import { StorageFailingError, storageFaultOf } from '../../src/storage/storage-health.js';
import { damagedTables } from '../../src/storage/db-files.js';

async function freshDir(t: { teardown(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'hearth-db-faults-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

const OPTS = { cacheSizeBytes: 1 << 20, writeBufferSizeBytes: 64 * 1024 };

test('an ENOSPC write fails storage, refuses later writes, and recovery makes writes work again', async (t) => {
  const dir = await freshDir(t);
  const logged: string[] = [];
  const logger = {
    error: (_o: object, msg: string) => void logged.push(`error: ${msg}`),
    warn: (_o: object, msg: string) => void logged.push(`warn: ${msg}`),
    info: () => undefined,
  };
  const db = await Database.open(join(dir, 'db'), { ...OPTS, logger, recoveryIntervalMs: 3_600_000 });
  t.teardown(() => db.close());
  await db.write([db.putJson('meta', Buffer.from('before'), 1)]);

  // What classic-level rejects with when LevelDB's write hits a full disk.
  const realBatch = db.root.batch.bind(db.root);
  let calls = 0;
  (db.root as any).batch = (...args: unknown[]) => {
    calls++;
    return Promise.reject(Object.assign(new Error('IO error: /data/db/000007.ldb: No space left on device'), { code: 'LEVEL_IO_ERROR' }));
  };
  const first = await t.throwsAsync(db.write([db.putJson('meta', Buffer.from('lost'), 2)]));
  t.true(first instanceof StorageFailingError);
  t.is((first as StorageFailingError).status, 503);
  t.regex(first!.message, /Storage is failing \(IO error: .*No space left on device\)/);
  t.is(db.health.current?.code, 'ENOSPC');

  (db.root as any).batch = realBatch;
  const refused = await t.throwsAsync(db.write([db.putJson('meta', Buffer.from('refused'), 3)]));
  t.true(refused instanceof StorageFailingError, 'refused before LevelDB while failing');
  t.is(calls, 1, 'the refused write never reached LevelDB');
  t.deepEqual(logged, ['error: storage is failing: writes are refused until it recovers'], 'logged once');

  t.true(await db.tryRecover());
  t.is(db.health.current, undefined);
  await db.write([db.putJson('meta', Buffer.from('after'), 4)]);
  t.is(await db.getJson<number>('meta', Buffer.from('after')), 4);
  t.is(db.getJsonSync<number>('meta', Buffer.from('before')), 1, 'synchronous reads work after the reopen');
  t.is(await db.getJson('meta', Buffer.from('refused')), undefined);
  t.deepEqual(logged.slice(1), ['warn: storage recovered: writes accepted again']);
});

test('errors that are not I/O faults do not fail storage', async (t) => {
  const dir = await freshDir(t);
  const db = await Database.open(join(dir, 'db'), OPTS);
  t.teardown(() => db.close());
  (db.root as any).batch = () => Promise.reject(new TypeError('bad operation'));
  await t.throwsAsync(db.write([db.putJson('meta', Buffer.from('x'), 1)]), { instanceOf: TypeError });
  t.is(db.health.current, undefined);
});

test('a table file cut short is found at open, with the repair path', async (t) => {
  const dir = await freshDir(t);
  const path = join(dir, 'db');
  const db = await Database.open(path, OPTS);
  // Enough to flush the 64 KB write buffer into table files.
  for (let i = 0; i < 40; i++) {
    await db.write(Array.from({ length: 20 }, (_, j) => db.putJson('meta', Buffer.from(`k${i}-${j}`), 'x'.repeat(500))));
  }
  await db.close();
  // Closing can leave a compaction's unfinished output behind, unreferenced (seen on CI: a table
  // without its footer right after close); LevelDB deletes such leftovers when it opens, so open
  // once more before picking a table: the victim must be one LevelDB really uses.
  await (await Database.open(path, OPTS)).close();
  const tables = (await readdir(path)).filter((n) => n.endsWith('.ldb'));
  t.true(tables.length > 0);
  t.deepEqual(damagedTables(path), []);
  const victim = join(path, tables[0]!);
  await truncate(victim, Math.floor((await stat(victim)).size / 2));
  const err = await t.throwsAsync(Database.open(path, OPTS));
  t.true(err instanceof DatabaseDamagedError);
  t.regex(err!.message, new RegExp(`table ${tables[0]}: \\d+ bytes: no table footer`));
  t.regex(err!.message, /hearth doctor --repair/);
});

test('a log cut at a record boundary (silent for LevelDB) is found from the durable mark', async (t) => {
  const dir = await freshDir(t);
  const path = join(dir, 'db');
  // Every batch fsync'd: each acknowledged write is known durable.
  const db = await Database.open(path, { ...OPTS, writeBufferSizeBytes: 4 << 20, sync: 'always' });
  for (let i = 0; i < 100; i++) await db.write([db.putJson('meta', Buffer.from(`event-${i}`), { i, pad: 'x'.repeat(200) })]);
  await db.close();
  const mark = Number((await readFile(`${path}.durable`, 'utf8')).trim());
  t.true(mark >= 100, `durable mark ${mark}`);
  // A copy, opened intact (LevelDB moves the replayed log into a table at open, so not the original).
  await cp(path, `${path}-copy`, { recursive: true });
  await cp(`${path}.durable`, `${path}-copy.durable`);
  const intact = await Database.open(`${path}-copy`, OPTS);
  t.is(intact.lostWrites, undefined, 'an intact database');
  await intact.close();

  // Cut the log in half: LevelDB replays what is left and says nothing.
  const log = (await readdir(path)).find((n) => n.endsWith('.log'))!;
  await truncate(join(path, log), Math.floor((await stat(join(path, log))).size / 2));
  const reopened = await Database.open(path, OPTS);
  t.teardown(() => reopened.close());
  t.truthy(reopened.lostWrites);
  t.is(reopened.lostWrites!.durable, mark);
  t.true(reopened.lostWrites!.found < mark && reopened.lostWrites!.found > 0, JSON.stringify(reopened.lostWrites));
  t.is(await reopened.getJson('meta', Buffer.from('event-99')), undefined, 'the tail is gone, and it is reported');
});

test('I/O faults are classified from what classic-level reports; other errors are not faults', (t) => {
  const io = (message: string) => Object.assign(new Error(message), { code: 'LEVEL_IO_ERROR' });
  t.is(storageFaultOf(io('IO error: /d/db/000012.ldb: Too many open files'))?.code, 'EMFILE');
  t.is(storageFaultOf(io('IO error: /d/db/000007.log: No space left on device'))?.code, 'ENOSPC');
  t.is(storageFaultOf(io('IO error: /d/db/MANIFEST-000002: Read-only file system'))?.code, 'EROFS');
  t.is(storageFaultOf(io('IO error: something else'))?.code, 'EIO');
  t.is(storageFaultOf(Object.assign(new Error('Corruption: block checksum mismatch'), { code: 'LEVEL_CORRUPTION' }))?.code, 'CORRUPTION');
  t.is(storageFaultOf(Object.assign(new Error('Database failed to write'), { cause: io('IO error: x: Too many open files') }))?.code, 'EMFILE', 'from the cause too');
  t.is(storageFaultOf(new TypeError('bad operation')), undefined);
  t.is(storageFaultOf(Object.assign(new Error('Database is not open'), { code: 'LEVEL_DATABASE_NOT_OPEN' })), undefined);
});
