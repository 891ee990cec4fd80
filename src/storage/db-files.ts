/**
 * Checks of LevelDB's files that LevelDB itself does not make at open (docs/storage.md "Damaged
 * database files"):
 * - a table file (`.ldb`/`.sst`) cut short (a copy or a card that lost its tail) is only found when
 *   a read or a compaction reaches it, and a compaction that fails latches an error that fails every
 *   later write; every table ends with LevelDB's 8-byte magic number, so a missing one is a cut;
 * - a log (`.log`) cut mid-record is replayed up to the damage and the rest *dropped*, which LevelDB
 *   only notes in its own info log (`LOG`, rewritten at each open): "dropping N bytes".
 */
import { closeSync, openSync, readdirSync, readFileSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** The last 8 bytes of every LevelDB table: kTableMagicNumber 0xdb4775248b80fb57, little-endian. */
const TABLE_MAGIC = Buffer.from('57fb808b247547db', 'hex');
/** A table footer is 48 bytes: two block handles padded to 40, then the magic. */
const FOOTER_BYTES = 48;

export interface TableDamage {
  file: string;
  bytes: number;
  problem: string;
}

/**
 * Table files whose footer is missing or wrong (cut short or overwritten). Files modified after
 * `writtenBefore` are skipped: a compaction of the open database is writing them.
 */
export function damagedTables(dbPath: string, writtenBefore = Infinity): TableDamage[] {
  let names: string[];
  try {
    names = readdirSync(dbPath);
  } catch {
    return [];
  }
  const damaged: TableDamage[] = [];
  for (const name of names.filter((n) => n.endsWith('.ldb') || n.endsWith('.sst')).sort()) {
    const path = join(dbPath, name);
    const st = statSync(path, { throwIfNoEntry: false });
    if (!st || st.mtimeMs >= writtenBefore) continue;
    const bytes = st.size;
    if (bytes < FOOTER_BYTES) {
      damaged.push({ file: name, bytes, problem: `${bytes} bytes: shorter than a table footer (cut short)` });
      continue;
    }
    const tail = Buffer.alloc(TABLE_MAGIC.length);
    const fd = openSync(path, 'r');
    try {
      readSync(fd, tail, 0, tail.length, bytes - tail.length);
    } finally {
      closeSync(fd);
    }
    if (!tail.equals(TABLE_MAGIC)) damaged.push({ file: name, bytes, problem: `${bytes} bytes: no table footer at the end (cut short or overwritten)` });
  }
  return damaged;
}

/**
 * What LevelDB dropped while replaying its log at the last open, from its info log: one line per
 * damaged stretch ("... dropping 4096 bytes; corruption: ..."). Empty when nothing was dropped.
 * Each open moves the previous info log to `LOG.old`: the doctor reads both.
 */
export function droppedAtOpen(dbPath: string, infoLog = 'LOG'): string[] {
  let text: string;
  try {
    text = readFileSync(join(dbPath, infoLog), 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter((line) => /dropping \d+ bytes/i.test(line))
    .map((line) => line.replace(/^\S+ \S+ /, '').trim());
}
