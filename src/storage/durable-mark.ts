/**
 * The durable mark: the sequence number of the last write batch known to be on the disk (written
 * after LevelDB's fsync of its log returned), kept beside the database in `db.durable` (docs/storage.md
 * "Damaged database files"). Every fsync'd batch also stores its own number (`meta/write_seq`), so at open a
 * database whose last batch is older than the mark has lost acknowledged writes: a log cut at a
 * record boundary, which LevelDB cannot tell from a write torn by a power cut and drops without a
 * word. The mark is written without fsync: losing it only makes it older (no false alarm), and it
 * is never newer than what LevelDB made durable. With `storage.sync: none` nothing is ever known
 * durable and there is no mark.
 */
import { readFileSync, writeFileSync } from 'node:fs';

const markPath = (dbPath: string) => `${dbPath}.durable`;

export function readDurableMark(dbPath: string): number | undefined {
  try {
    const n = Number(readFileSync(markPath(dbPath), 'utf8').trim());
    return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

export function writeDurableMark(dbPath: string, seq: number): void {
  try {
    writeFileSync(markPath(dbPath), `${seq}\n`, { mode: 0o600 });
  } catch {
    // A mark that could not be written stays older: detection is weaker, nothing is wrong.
  }
}
