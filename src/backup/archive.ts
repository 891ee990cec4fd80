/**
 * The backup archive (docs/cli.md "Backup archive format"): one gzip stream of
 *
 *   magic "HEARTHBK" ‖ u8 format version (1)
 *   then records, each starting with a u8 type:
 *     0x01 entry: u32 key length ‖ key ‖ u32 value length ‖ value   (one LevelDB key/value, raw bytes
 *                 of the root database, sublevel prefix included, in key order)
 *     0x02 file:  u16 path length ‖ path (UTF-8, relative to the data directory, `/`-separated)
 *                 ‖ u64 size ‖ the file's bytes
 *     0xFF end:   u64 entry count ‖ u64 file count
 *   (integers big-endian).
 *
 * Why our own framing rather than tar: the database part is millions of small key/values, which
 * a tar would have to wrap as one big file anyway, and the end record with its counts lets a
 * restore tell a complete archive from one cut short (a full disk, a killed backup).
 */
import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import { createGunzip, createGzip, type Gzip } from 'node:zlib';

const MAGIC = Buffer.from('HEARTHBK', 'latin1');
export const ARCHIVE_VERSION = 1;
const ENTRY = 0x01;
const FILE = 0x02;
const END = 0xff;

/** The data-directory files a backup carries besides the database (see `isArchivedFile`). */
export const TELEMETRY_JOURNAL_FILE = 'telemetry.journal';
const KEY_FILES = ['signing.key', 'old_signing_keys'];
const MEDIA_FILE = /^media\/[A-Za-z0-9_-]+$/;

/**
 * Whether a path may appear in an archive: the telemetry journal, the signing keys and finished
 * media files. A restore refuses anything else, so an archive cannot write outside the data
 * directory (`../`) or over the configuration.
 */
export function isArchivedFile(path: string): boolean {
  return path === TELEMETRY_JOURNAL_FILE || KEY_FILES.includes(path) || MEDIA_FILE.test(path);
}

export const ARCHIVED_KEY_FILES: readonly string[] = KEY_FILES;

/**
 * Records are gathered up to this many bytes before they go to gzip: each write to a zlib stream is
 * one deflate call on the thread pool, and the database part is tens of thousands of entries of a
 * few hundred bytes (one write each made a backup ~8 times slower than `tar | gzip -1`).
 */
const WRITE_BATCH_BYTES = 64 * 1024;

/** Writes an archive to `path`, with backpressure; `bytes` counts what went in (before gzip). */
export class ArchiveWriter {
  private entries = 0;
  private files = 0;
  private written = 0;
  private pending: Buffer[] = [];
  private pendingBytes = 0;

  private constructor(
    private readonly gzip: Gzip,
    private readonly out: WriteStream,
  ) {}

  static async create(path: string): Promise<ArchiveWriter> {
    // Level 1: a Pi's CPU, not the card, is the bottleneck here; the database is already compact.
    const gzip = createGzip({ level: 1 });
    const file = createWriteStream(path, { mode: 0o600 });
    gzip.pipe(file);
    await once(file, 'open');
    const writer = new ArchiveWriter(gzip, file);
    await writer.push(Buffer.concat([MAGIC, Buffer.from([ARCHIVE_VERSION])]));
    return writer;
  }

  get counts(): { entries: number; files: number; bytes: number } {
    return { entries: this.entries, files: this.files, bytes: this.written };
  }

  async entry(key: Uint8Array, value: Uint8Array): Promise<void> {
    const head = Buffer.allocUnsafe(5);
    head.writeUInt8(ENTRY, 0);
    head.writeUInt32BE(key.length, 1);
    const valueLength = Buffer.allocUnsafe(4);
    valueLength.writeUInt32BE(value.length, 0);
    await this.push(Buffer.concat([head, key, valueLength, value]));
    this.entries++;
  }

  /** A file record whose bytes come from `chunks` and total exactly `size`. */
  async file(path: string, size: number, chunks: AsyncIterable<Buffer> | Iterable<Buffer>): Promise<void> {
    if (!isArchivedFile(path)) throw new Error(`not a file a backup carries: ${path}`);
    const name = Buffer.from(path, 'utf8');
    const head = Buffer.allocUnsafe(1 + 2 + name.length + 8);
    head.writeUInt8(FILE, 0);
    head.writeUInt16BE(name.length, 1);
    name.copy(head, 3);
    head.writeBigUInt64BE(BigInt(size), 3 + name.length);
    await this.push(head);
    let seen = 0;
    for await (const chunk of chunks) {
      seen += chunk.length;
      if (seen > size) throw new Error(`${path} grew while it was copied`);
      await this.push(chunk);
    }
    if (seen !== size) throw new Error(`${path} shrank while it was copied`);
    this.files++;
  }

  /** Writes the end record and waits until the file is closed. */
  async finish(): Promise<void> {
    const end = Buffer.allocUnsafe(17);
    end.writeUInt8(END, 0);
    end.writeBigUInt64BE(BigInt(this.entries), 1);
    end.writeBigUInt64BE(BigInt(this.files), 9);
    await this.push(end);
    await this.flush();
    this.gzip.end();
    await once(this.out, 'close');
  }

  /** Stops writing (after a failure); the caller removes the file. */
  async abort(): Promise<void> {
    this.gzip.unpipe(this.out);
    this.gzip.destroy();
    this.out.end();
    await once(this.out, 'close').catch(() => undefined);
  }

  private async push(buf: Buffer): Promise<void> {
    this.written += buf.length;
    this.pending.push(buf);
    this.pendingBytes += buf.length;
    if (this.pendingBytes >= WRITE_BATCH_BYTES) await this.flush();
  }

  private async flush(): Promise<void> {
    if (this.pendingBytes === 0) return;
    const batch = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    if (!this.gzip.write(batch)) await once(this.gzip, 'drain');
  }
}

export type ArchiveRecord =
  | { kind: 'entry'; key: Buffer; value: Buffer }
  | { kind: 'file'; path: string; size: number; chunks: AsyncIterable<Buffer> }
  | { kind: 'end'; entries: number; files: number };

/**
 * Reads an archive record by record. A file record's chunks must be consumed before the next
 * record is asked for. Throws on a wrong magic or version, an unknown record, or a cut-off archive.
 * `onRead` gets the compressed bytes read so far (for a progress bar against the file's size).
 */
export async function* readArchive(path: string, onRead?: (compressedBytes: number) => void): AsyncGenerator<ArchiveRecord> {
  const file = createReadStream(path);
  let compressed = 0;
  file.on('data', (chunk) => {
    compressed += chunk.length;
    onRead?.(compressed);
  });
  const reader = new ByteReader(file.pipe(createGunzip())[Symbol.asyncIterator]());
  try {
    const head = await reader.exactly(MAGIC.length + 1, 'the archive header');
    if (!head.subarray(0, MAGIC.length).equals(MAGIC)) throw new Error(`${path} is not a Hearth backup`);
    const version = head[MAGIC.length]!;
    if (version !== ARCHIVE_VERSION) throw new Error(`${path} is a backup of format ${version}; this Hearth reads format ${ARCHIVE_VERSION}`);
    let entries = 0;
    let files = 0;
    for (;;) {
      const type = (await reader.exactly(1, 'a record'))[0];
      if (type === ENTRY) {
        const key = await reader.exactly((await reader.exactly(4, 'a key length')).readUInt32BE(0), 'a key');
        const value = await reader.exactly((await reader.exactly(4, 'a value length')).readUInt32BE(0), 'a value');
        entries++;
        yield { kind: 'entry', key, value };
      } else if (type === FILE) {
        const name = (await reader.exactly((await reader.exactly(2, 'a path length')).readUInt16BE(0), 'a path')).toString('utf8');
        if (!isArchivedFile(name)) throw new Error(`the archive holds a file a backup never carries: ${JSON.stringify(name)}`);
        const size = Number((await reader.exactly(8, 'a file size')).readBigUInt64BE(0));
        files++;
        const chunks = reader.upTo(size, name);
        yield { kind: 'file', path: name, size, chunks };
        // A reader that skipped the contents: read past them, or the next record would start mid-file.
        for await (const _unread of chunks);
      } else if (type === END) {
        const counts = await reader.exactly(16, 'the end record');
        const end = { entries: Number(counts.readBigUInt64BE(0)), files: Number(counts.readBigUInt64BE(8)) };
        if (end.entries !== entries || end.files !== files) {
          throw new Error(`the archive is inconsistent: it says ${end.entries} entries and ${end.files} files, holds ${entries} and ${files}`);
        }
        yield { kind: 'end', ...end };
        return;
      } else {
        throw new Error(`the archive is damaged: unknown record type ${String(type)}`);
      }
    }
  } finally {
    file.destroy();
  }
}

/** Exact-length reads over a stream's chunks. */
class ByteReader {
  private buffered: Buffer[] = [];
  private length = 0;

  constructor(private readonly source: AsyncIterator<Buffer>) {}

  async exactly(n: number, what: string): Promise<Buffer> {
    while (this.length < n) {
      if (!(await this.fill())) throw new Error(`the archive is cut short (in ${what}): was the backup interrupted?`);
    }
    const all = this.buffered.length === 1 ? this.buffered[0]! : Buffer.concat(this.buffered);
    const out = all.subarray(0, n);
    const rest = all.subarray(n);
    this.buffered = rest.length > 0 ? [rest] : [];
    this.length = rest.length;
    return Buffer.from(out);
  }

  /** The next `n` bytes as they arrive (a file's contents, without holding it all in memory). */
  async *upTo(n: number, what: string): AsyncGenerator<Buffer> {
    let left = n;
    while (left > 0) {
      if (this.length === 0 && !(await this.fill())) throw new Error(`the archive is cut short (in ${what}): was the backup interrupted?`);
      const take = Math.min(left, this.length);
      const chunk = await this.exactly(take, what);
      left -= take;
      yield chunk;
    }
  }

  private async fill(): Promise<boolean> {
    const next = await this.source.next();
    if (next.done) return false;
    this.buffered.push(next.value);
    this.length += next.value.length;
    return true;
  }
}
