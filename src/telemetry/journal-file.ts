/**
 * The telemetry write-ahead journal as an append-only file beside the database
 * (`<data dir>/telemetry.journal`; layout in docs/storage.md).
 *
 * Why not LevelDB: journal entries live only until the next checkpoint (minutes). In LevelDB each
 * one is written to its log, then again into an L0 table when the memtable is flushed (LevelDB
 * flushes deleted entries too), then rewritten by compactions until its tombstone meets it. In a
 * file it is written once, and the checkpoint truncates it.
 *
 * Record: u32 payload length ‖ u32 CRC-32 of the payload ‖ u64 entry ms ‖ payload (big-endian).
 * Appends are not fsync'd, like LevelDB's log here: a SIGKILL loses nothing written (the page cache
 * survives the process); a power cut can lose the last moments. A torn record at the end (power cut
 * mid-append) fails its length or CRC check and is cut off when the file is opened.
 */
import { closeSync, existsSync, openSync, readFileSync, ftruncateSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { crc32 } from 'node:zlib';

const HEADER_BYTES = 16;

export interface JournalRecord {
  ms: number;
  payload: Buffer;
}

export class JournalFile {
  /** Bytes appended since open (headers included): the journal's share of SD-card writes. */
  private appended = 0;

  private constructor(private readonly handle: FileHandle) {}

  get bytesAppended(): number {
    return this.appended;
  }

  /** Opens (creating) the journal; returns its intact records, oldest first, and drops a torn tail. */
  static async open(path: string): Promise<{ journal: JournalFile; records: JournalRecord[] }> {
    const { records, intactBytes, totalBytes } = existsSync(path) ? readRecords(readFileSync(path)) : { records: [], intactBytes: 0, totalBytes: 0 };
    if (intactBytes < totalBytes) {
      const fd = openSync(path, 'r+');
      try {
        ftruncateSync(fd, intactBytes);
      } finally {
        closeSync(fd);
      }
    }
    return { journal: new JournalFile(await open(path, 'a', 0o600)), records };
  }

  /** Appends one record; resolves once the write is in the page cache. */
  async append(ms: number, payload: Buffer): Promise<void> {
    const record = frame(ms, payload);
    await this.handle.write(record);
    this.appended += record.length;
  }

  /** Empties the journal (after a checkpoint made every record in it redundant). */
  async clear(): Promise<void> {
    await this.handle.truncate(0);
  }

  async close(): Promise<void> {
    await this.handle.close();
  }
}

export function frame(ms: number, payload: Buffer): Buffer {
  const header = Buffer.allocUnsafe(HEADER_BYTES);
  header.writeUInt32BE(payload.length, 0);
  header.writeUInt32BE(crc32(payload), 4);
  header.writeBigUInt64BE(BigInt(ms), 8);
  return Buffer.concat([header, payload]);
}

/** The intact records of a journal image, and where the first torn or corrupt one starts. */
export function readRecords(buf: Buffer): { records: JournalRecord[]; intactBytes: number; totalBytes: number } {
  const records: JournalRecord[] = [];
  let at = 0;
  while (at + HEADER_BYTES <= buf.length) {
    const length = buf.readUInt32BE(at);
    const end = at + HEADER_BYTES + length;
    if (end > buf.length) break;
    const payload = buf.subarray(at + HEADER_BYTES, end);
    if (crc32(payload) !== buf.readUInt32BE(at + 4)) break;
    records.push({ ms: Number(buf.readBigUInt64BE(at + 8)), payload: Buffer.from(payload) });
    at = end;
  }
  return { records, intactBytes: at, totalBytes: buf.length };
}
