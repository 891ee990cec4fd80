/**
 * The database of a stopped gateway (docs/storage.md "Damaged database files"):
 * 1. it opens (LevelDB replays its log; a log cut mid-record loses its tail, which LevelDB only
 *    writes into its info log: read from LOG and LOG.old);
 * 2. every table file ends with LevelDB's footer (one cut short fails every later compaction, and
 *    then every write);
 * 3. every entry reads back (a full scan: a damaged block fails its checksum);
 * 4. the write batches made durable are all there.
 * Raw LevelDB: no migration, nothing written. `repairDatabase` is `hearth doctor --repair`'s.
 */
import { readdirSync } from 'node:fs';
import { Level } from 'level';
import { decodeJson } from '../../storage/codec.js';
import { KEYSPACES } from '../../storage/keyspaces.js';
import { damagedTables, droppedAtOpen } from '../../storage/db-files.js';
import { readDurableMark, writeDurableMark } from '../../storage/durable-mark.js';

export interface DatabaseReport {
  problems: string[];
  notes: string[];
  entries: number;
  tables: number;
}

export async function checkDatabaseFiles(path: string): Promise<DatabaseReport> {
  const problems: string[] = [];
  const notes: string[] = [];
  const openedAt = Date.now();
  const db = new Level<Buffer, Buffer>(path, { keyEncoding: 'buffer', valueEncoding: 'buffer', createIfMissing: false });
  await db.open();
  let entries = 0;
  try {
    for (const line of [...droppedAtOpen(path, 'LOG.old'), ...droppedAtOpen(path)]) {
      notes.push(`LevelDB dropped damaged log records at an open (writes acknowledged before them may be lost): ${line}`);
    }
    for (const damage of damagedTables(path, openedAt)) problems.push(`table ${damage.file}: ${damage.problem}`);
    const durable = readDurableMark(path);
    const found = await readWriteSeq(db);
    if (durable !== undefined && durable > found) {
      problems.push(`the database ends at write batch ${found}, but batch ${durable} had been made durable: acknowledged writes were lost (a cut log?)`);
    }
    try {
      for await (const _entry of db.iterator({ fillCache: false })) entries++;
    } catch (err) {
      problems.push(`reading every entry failed after ${entries}: ${err instanceof Error ? err.message : String(err)}`);
    }
  } finally {
    await db.close();
  }
  const tables = readdirSync(path).filter((n) => n.endsWith('.ldb') || n.endsWith('.sst')).length;
  return { problems, notes, entries, tables };
}

/** LevelDB's repair, then the durable mark moved to what survived (durable-mark.ts). */
export async function repairDatabase(path: string): Promise<void> {
  // In Node, `level`'s Level is classic-level's ClassicLevel, which has the static repair; the
  // `level` typings cover browsers too and leave it out.
  await (Level as unknown as { repair(location: string): Promise<void> }).repair(path);
  // What was lost is lost; the repaired database is where counting starts again.
  const seq = await lastWriteSeq(path).catch(() => undefined);
  if (seq !== undefined) writeDurableMark(path, seq);
}

async function readWriteSeq(db: Level<Buffer, Buffer>): Promise<number> {
  // The meta key space's sublevel prefix and key, as storage/db.ts writes them (keyspaces.ts).
  const value = await db.sublevel<Buffer, Buffer>(KEYSPACES.meta, { keyEncoding: 'buffer', valueEncoding: 'buffer' }).get(Buffer.from('write_seq'));
  return value === undefined ? 0 : (decodeJson<number>(value) ?? 0);
}

async function lastWriteSeq(path: string): Promise<number> {
  const db = new Level<Buffer, Buffer>(path, { keyEncoding: 'buffer', valueEncoding: 'buffer', createIfMissing: false });
  await db.open();
  try {
    return await readWriteSeq(db);
  } finally {
    await db.close();
  }
}
