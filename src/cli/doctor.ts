/**
 * `hearth doctor [--repair]`: checks the database of a stopped gateway and says what is wrong
 * (docs/storage.md "Damaged database files"):
 * 1. the database opens (LevelDB replays its log; a log cut mid-record loses its tail, which LevelDB
 *    only writes into its info log: read from LOG and LOG.old);
 * 2. every table file ends with LevelDB's footer (one cut short fails every later compaction, and
 *    then every write);
 * 3. every entry reads back (a full scan: a damaged block fails its checksum).
 * `--repair` copies the database aside first (`db.before-repair-<time>`), runs LevelDB's repair
 * (`ClassicLevel.repair`: rebuilds the manifest from the readable tables and logs, moves unreadable
 * files into `db/lost/`), then checks again. Exit 0: healthy (or repaired); 1: problems remain.
 */
import { cpSync, existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Level } from 'level';
import { loadConfig } from '../config/config.js';
import { decodeJson } from '../storage/codec.js';
import { KEYSPACES } from '../storage/keyspaces.js';
import { damagedTables, droppedAtOpen } from '../storage/db-files.js';
import { readDurableMark, writeDurableMark } from '../storage/durable-mark.js';

interface Report {
  problems: string[];
  notes: string[];
  entries: number;
  tables: number;
}

const USAGE = 'Usage: hearth doctor [--repair]\n';

export async function runDoctorCommand(args: string[], out: NodeJS.WritableStream = process.stdout): Promise<number> {
  const repair = args.includes('--repair');
  const unknown = args.filter((a) => a !== '--repair');
  if (unknown.length > 0) {
    process.stderr.write(`hearth doctor: unknown argument "${unknown[0]}"\n${USAGE}`);
    return 2;
  }
  const config = loadConfig();
  const path = join(config.dataDir, 'db');
  if (!existsSync(path)) {
    out.write(`no database at ${path}: nothing to check (the gateway creates it at its first start)\n`);
    return 0;
  }
  let report: Report;
  try {
    report = await check(path);
  } catch (err) {
    const cause = (err as { cause?: { message?: string } }).cause?.message;
    const message = `${err instanceof Error ? err.message : String(err)}${cause ? `: ${cause}` : ''}`;
    if (/lock/i.test(cause ?? message)) {
      process.stderr.write(`hearth doctor: the database at ${path} is in use: stop the gateway first (systemctl stop hearth)\n`);
      return 2;
    }
    report = { problems: [`the database does not open: ${message}`], notes: [], entries: 0, tables: 0 };
  }
  print(out, path, report);
  if (report.problems.length === 0) return 0;
  if (!repair) {
    out.write(`\nStop the gateway, then run "hearth doctor --repair" (it copies the database aside first).\n`);
    return 1;
  }
  const backup = `${path}.before-repair-${new Date().toISOString().replace(/[:.]/g, '-')}`;
  cpSync(path, backup, { recursive: true });
  out.write(`\ncopied the database to ${backup}\nrepairing (LevelDB repair)...\n`);
  // In Node, `level`'s Level is classic-level's ClassicLevel, which has the static repair; the
  // `level` typings cover browsers too and leave it out.
  await (Level as unknown as { repair(location: string): Promise<void> }).repair(path);
  const lost = existsSync(join(path, 'lost')) ? readdirSync(join(path, 'lost')) : [];
  if (lost.length > 0) out.write(`unreadable files moved to ${join(path, 'lost')}: ${lost.join(', ')}\n`);
  // What was lost is lost; the repaired database is where counting starts again (durable-mark.ts).
  const seq = await lastWriteSeq(path).catch(() => undefined);
  if (seq !== undefined) writeDurableMark(path, seq);
  const after = await check(path).catch((err: unknown) => ({
    problems: [`the database does not open: ${err instanceof Error ? err.message : String(err)}`],
    notes: [],
    entries: 0,
    tables: 0,
  }));
  out.write('\nafter repair:\n');
  print(out, path, after);
  return after.problems.length === 0 ? 0 : 1;
}

async function check(path: string): Promise<Report> {
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

function print(out: NodeJS.WritableStream, path: string, report: Report): void {
  out.write(`database ${path}: ${report.entries} entries in ${report.tables} table files\n`);
  for (const note of report.notes) out.write(`  warning: ${note}\n`);
  if (report.problems.length === 0) out.write('  ok: no damage found\n');
  for (const problem of report.problems) out.write(`  problem: ${problem}\n`);
}
