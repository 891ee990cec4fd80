/**
 * A durable FIFO of readings taken while the device could not deliver them.
 *
 * On disk: `queue.log`, an append-only file of records `[u32 length][u32 crc32][JSON]`, and
 * `queue.idx`, a tiny JSON index `{ headOffset, evicted }` saying where the first undelivered record
 * starts. Appending writes one record (~60 bytes); acknowledging only moves the head in memory, and the
 * index is rewritten at most every `syncIntervalMs` (and on close). So an SD card sees small appends,
 * not rewrites. A crash before the index is saved replays some delivered readings again, which QoS 1
 * allows (duplicates, never gaps). A torn last record (power cut mid-write) fails its CRC and is cut off.
 *
 * The live records are also kept in memory (the queue is bounded), so replay never reads the file.
 * When the queue drains, the file is truncated; when the dead prefix grows large, the live part is
 * rewritten to a new file.
 */
import { closeSync, existsSync, fdatasyncSync, fstatSync, ftruncateSync, mkdirSync, openSync, readFileSync, readSync, renameSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import type { Reading } from './device.js';

export interface OfflineQueueOptions {
  /** Oldest readings are evicted (and counted) beyond this many. */
  maxEntries: number;
  /** Data is fdatasync'ed and the index saved at most this often (ms). */
  syncIntervalMs: number;
}

export interface QueueEntry {
  /** Position in this queue's life; increases by one per append, not persisted. */
  id: number;
  reading: Reading;
  /** Byte offset of the record in the log, and its size with the header. */
  offset: number;
  size: number;
}

interface QueueIndex {
  headOffset: number;
  evicted: number;
}

const HEADER_BYTES = 8;
/** Rewrite the log once this many dead bytes precede the head and they outweigh the live bytes. */
const COMPACT_DEAD_BYTES = 1 << 20;

export class OfflineQueue {
  private readonly entries: QueueEntry[] = [];
  /** Index into `entries` of the first undelivered entry; the array is spliced lazily. */
  private head = 0;
  private readonly acked = new Set<number>();
  private nextId = 0;
  private tailOffset = 0;
  private evictedCount = 0;
  private fd: number;
  private dirty = false;
  private syncTimer: NodeJS.Timeout | undefined;

  private constructor(
    private readonly logPath: string,
    private readonly indexPath: string,
    private readonly options: OfflineQueueOptions,
  ) {
    this.fd = openSync(logPath, existsSync(logPath) ? 'r+' : 'w+');
  }

  /** Opens (or creates) the queue in `dir`, recovering the undelivered readings left there. */
  static open(dir: string, options: OfflineQueueOptions): OfflineQueue {
    if (!(options.maxEntries >= 1)) throw new Error('maxEntries must be at least 1');
    mkdirSync(dir, { recursive: true });
    const queue = new OfflineQueue(join(dir, 'queue.log'), join(dir, 'queue.idx'), options);
    queue.recover();
    return queue;
  }

  /** Undelivered readings held. */
  get length(): number {
    return this.entries.length - this.head;
  }

  /** Readings dropped (oldest first) because the queue was full, over the queue's whole life. */
  get evicted(): number {
    return this.evictedCount;
  }

  /** Appends a reading at the tail, evicting the oldest when full. */
  append(reading: Reading): QueueEntry {
    while (this.length >= this.options.maxEntries) this.evictOldest();
    const json = Buffer.from(JSON.stringify({ t: reading.ts, v: reading.values }));
    const record = Buffer.allocUnsafe(HEADER_BYTES + json.length);
    record.writeUInt32BE(json.length, 0);
    record.writeUInt32BE(crc32(json), 4);
    json.copy(record, HEADER_BYTES);
    writeSync(this.fd, record, 0, record.length, this.tailOffset);
    const entry: QueueEntry = { id: this.nextId++, reading, offset: this.tailOffset, size: record.length };
    this.tailOffset += record.length;
    this.entries.push(entry);
    this.markDirty();
    return entry;
  }

  /** Up to `limit` entries after the entry with id `afterId` (-1: from the head), oldest first. */
  after(afterId: number, limit: number): QueueEntry[] {
    const out: QueueEntry[] = [];
    for (let i = this.head; i < this.entries.length && out.length < limit; i++) {
      const entry = this.entries[i]!;
      if (entry.id > afterId && !this.acked.has(entry.id)) out.push(entry);
    }
    return out;
  }

  /**
   * Marks an entry delivered (PUBACK received). The head advances over every delivered entry at the
   * front; entries behind an undelivered one wait, so a crash never skips an undelivered reading.
   */
  ack(id: number): void {
    const first = this.entries[this.head];
    if (first === undefined || id < first.id) return; // already evicted or acknowledged
    this.acked.add(id);
    while (this.head < this.entries.length && this.acked.delete(this.entries[this.head]!.id)) this.head++;
    this.afterHeadMoved();
  }

  /** Flushes data and index to disk now. */
  sync(): void {
    if (this.syncTimer) clearTimeout(this.syncTimer);
    this.syncTimer = undefined;
    if (!this.dirty) return;
    this.dirty = false;
    fdatasyncSync(this.fd);
    this.writeIndex();
  }

  close(): void {
    this.sync();
    closeSync(this.fd);
  }

  private evictOldest(): void {
    const entry = this.entries[this.head];
    if (!entry) return;
    this.acked.delete(entry.id);
    this.head++;
    this.evictedCount++;
    this.afterHeadMoved();
  }

  private afterHeadMoved(): void {
    if (this.length === 0) {
      // Drained: start the log afresh so it never grows while the device is online. The saved index
      // must not point past records appended to the emptied log, so it is saved now.
      this.entries.length = 0;
      this.head = 0;
      this.tailOffset = 0;
      ftruncateSync(this.fd, 0);
      this.dirty = true;
      this.sync();
      return;
    }
    if (this.head > 1024 && this.head * 2 > this.entries.length) {
      this.entries.splice(0, this.head);
      this.head = 0;
    }
    const deadBytes = this.entries[this.head]!.offset;
    if (deadBytes > COMPACT_DEAD_BYTES && deadBytes > this.tailOffset - deadBytes) this.compact();
    this.markDirty();
  }

  /** Rewrites the live records to a fresh log and swaps it in. */
  private compact(): void {
    const live = this.entries.slice(this.head);
    const start = live[0]!.offset;
    const bytes = Buffer.alloc(this.tailOffset - start);
    readRange(this.fd, bytes, start);
    const tmp = `${this.logPath}.tmp`;
    writeFileSync(tmp, bytes);
    closeSync(this.fd);
    renameSync(tmp, this.logPath);
    this.fd = openSync(this.logPath, 'r+');
    for (const entry of live) entry.offset -= start;
    this.entries.splice(0, this.head);
    this.head = 0;
    this.tailOffset -= start;
    // The index must point at the new file before anything else happens.
    this.dirty = true;
    this.sync();
  }

  private markDirty(): void {
    this.dirty = true;
    this.syncTimer ??= setTimeout(() => this.sync(), this.options.syncIntervalMs);
    this.syncTimer.unref();
  }

  private writeIndex(): void {
    const index: QueueIndex = { headOffset: this.entries[this.head]?.offset ?? 0, evicted: this.evictedCount };
    const tmp = `${this.indexPath}.tmp`;
    writeFileSync(tmp, JSON.stringify(index));
    renameSync(tmp, this.indexPath);
  }

  /** Loads every intact record from the saved head to the first torn or corrupt one, then cuts there. */
  private recover(): void {
    const index = readIndex(this.indexPath);
    this.evictedCount = index.evicted;
    const size = fstatSync(this.fd).size;
    const data = Buffer.alloc(Math.max(0, size - index.headOffset));
    readRange(this.fd, data, index.headOffset);
    let pos = 0;
    while (pos + HEADER_BYTES <= data.length) {
      const length = data.readUInt32BE(pos);
      const end = pos + HEADER_BYTES + length;
      if (end > data.length) break;
      const json = data.subarray(pos + HEADER_BYTES, end);
      if (crc32(json) !== data.readUInt32BE(pos + 4)) break;
      const parsed = JSON.parse(json.toString('utf8')) as { t: number; v: Reading['values'] };
      this.entries.push({ id: this.nextId++, reading: { ts: parsed.t, values: parsed.v }, offset: index.headOffset + pos, size: end - pos });
      pos = end;
    }
    this.tailOffset = index.headOffset + pos;
    if (this.tailOffset < size) ftruncateSync(this.fd, this.tailOffset);
    while (this.length > this.options.maxEntries) this.evictOldest();
    if (this.length === 0) this.afterHeadMoved();
  }
}

function readIndex(path: string): QueueIndex {
  if (!existsSync(path)) return { headOffset: 0, evicted: 0 };
  const parsed = JSON.parse(readFileSync(path, 'utf8')) as Partial<QueueIndex>;
  return { headOffset: parsed.headOffset ?? 0, evicted: parsed.evicted ?? 0 };
}

function readRange(fd: number, into: Buffer, position: number): void {
  let done = 0;
  while (done < into.length) {
    const n = readSync(fd, into, done, into.length - done, position + done);
    if (n === 0) break;
    done += n;
  }
}
