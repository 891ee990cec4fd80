/**
 * The LevelDB store: opens the database, hands out the sublevels of the catalog (keyspaces.ts),
 * checks the schema version, and writes multi-keyspace atomic batches.
 *
 * Durability (`storage.sync`, docs/storage.md "Durability"): LevelDB appends each batch to its log
 * with write(2) before the promise resolves, so a SIGKILL of the process loses nothing acknowledged
 * in any mode; what a power cut may lose depends on when the log is fsync'd: `always` (every batch),
 * `batch` (at most one fsync per `syncIntervalMs`, and a last one that interval after a burst), `none`.
 *
 * Faults (storage-health.ts): a write that fails with an I/O error (ENOSPC, EMFILE) marks storage
 * failing; writes are then refused with 503 until a probe succeeds. LevelDB latches its first
 * background error and fails every later write with it, so recovery closes and reopens the database.
 * Free space below `minFreeBytes` refuses writes before the disk is full.
 */
import { Level } from 'level';
import type { AbstractSublevel, AbstractBatchOperation } from 'abstract-level';
import { KEYSPACES, STORAGE_VERSION, type KeyspaceName } from './keyspaces.js';
import { decodeJson, encodeJson } from './codec.js';
import { runMigrations } from './migrations/index.js';
import { StorageFailingError, StorageHealth, freeBytes, storageFaultOf, type StorageLogger } from './storage-health.js';
import { damagedTables, droppedAtOpen } from './db-files.js';
import { readDurableMark, writeDurableMark } from './durable-mark.js';

export type Keyspace = AbstractSublevel<Level<Buffer, Buffer>, string | Buffer | Uint8Array, Buffer, Buffer>;
export type BatchOp = AbstractBatchOperation<Level<Buffer, Buffer>, Buffer, Buffer>;

export interface DatabaseOptions {
  cacheSizeBytes: number;
  writeBufferSizeBytes: number;
  /** When the log is fsync'd (see above); default `batch`. */
  sync?: 'always' | 'batch' | 'none';
  /** `batch`: the longest a write stays without an fsync. Default 1000 ms. */
  syncIntervalMs?: number;
  /** Writes are refused while the disk has less free space than this. Default 0 (no check). */
  minFreeBytes?: number;
  /** Where faults and recoveries are logged (once per episode). */
  logger?: StorageLogger;
  /** How often a failing database is probed for recovery. Default 2000 ms. */
  recoveryIntervalMs?: number;
}

/** LevelDB's own limit on open table files; each is a file descriptor (see connection caps in app/). */
export const MAX_OPEN_TABLE_FILES = 64;
/** LevelDB's batch option that fsyncs the log before the batch resolves. */
const SYNCED = Object.freeze({ sync: true });
/** How often free disk space is looked at while healthy. */
const FREE_SPACE_CHECK_MS = 5000;

/** A damaged database found at open: the gateway must not run on it (docs/storage.md "Damaged database files"). */
export class DatabaseDamagedError extends Error {
  constructor(
    readonly path: string,
    readonly problems: string[],
  ) {
    super(
      `the database at ${path} is damaged:\n  ${problems.join('\n  ')}\n` +
        `Stop the gateway, back up the data directory, then run "hearth doctor --repair" (docs/storage.md "Damaged database files").`,
    );
    this.name = 'DatabaseDamagedError';
  }
}

export class Database {
  private readonly spaces = new Map<KeyspaceName, Keyspace>();
  readonly health: StorageHealth;
  /** Lines of LevelDB's info log saying what it dropped from a damaged log at this open (data lost before we ran). */
  readonly droppedAtOpen: string[];
  /**
   * Set when the database opened with fewer writes than were known durable (durable-mark.ts): its
   * log lost acknowledged writes (cut, or a card that lied about an fsync).
   */
  lostWrites: { durable: number; found: number } | undefined;
  /** Sequence number of the last write batch (`meta/write_seq`, written in every fsync'd batch). */
  private writeSeq = 0;
  /** When the durable mark was last written, and the last batch an fsync covered. */
  private markWrittenAt = 0;
  private syncedSeq = 0;
  private readonly syncMode: 'always' | 'batch' | 'none';
  private readonly syncIntervalMs: number;
  private lastSyncAt = 0;
  private unsyncedWrites = false;
  private syncTimer: NodeJS.Timeout | undefined;
  private recoveryTimer: NodeJS.Timeout | undefined;
  private spaceTimer: NodeJS.Timeout | undefined;
  /** A LevelDB error was latched: only a reopen clears it. */
  private needsReopen = false;
  private recovering = false;
  private closed = false;

  private constructor(
    readonly root: Level<Buffer, Buffer>,
    readonly path: string,
    private readonly opts: DatabaseOptions,
    dropped: string[],
  ) {
    this.health = new StorageHealth(opts.logger);
    this.droppedAtOpen = dropped;
    this.syncMode = opts.sync ?? 'batch';
    this.syncIntervalMs = opts.syncIntervalMs ?? 1000;
  }

  static async open(path: string, opts: DatabaseOptions): Promise<Database> {
    const root = new Level<Buffer, Buffer>(path, {
      keyEncoding: 'buffer',
      valueEncoding: 'buffer',
      cacheSize: opts.cacheSizeBytes,
      writeBufferSize: opts.writeBufferSizeBytes,
      // Fewer open table files keeps RSS and file handles down on small gateways.
      maxOpenFiles: MAX_OPEN_TABLE_FILES,
    });
    const openedAt = Date.now();
    try {
      await root.open();
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      if (cause?.message?.includes('lock')) {
        throw new Error(`the database at ${path} is in use by another process (is the gateway running?)`);
      }
      if (cause?.code === 'LEVEL_CORRUPTION' || /corrupt/i.test(cause?.message ?? '')) {
        throw new DatabaseDamagedError(path, [cause?.message ?? String(err)]);
      }
      throw err;
    }
    // Tables LevelDB still references after its open (it deletes unreferenced leftovers of a
    // crash while opening); one written since the open belongs to a compaction under way.
    const damaged = damagedTables(path, openedAt);
    if (damaged.length > 0) {
      await root.close();
      throw new DatabaseDamagedError(path, damaged.map((d) => `table ${d.file}: ${d.problem}`));
    }
    const db = new Database(root, path, opts, droppedAtOpen(path));
    // A sublevel opens asynchronously after it is created, and getSync() refuses one still opening:
    // open the whole catalog now so synchronous reads work from the first request.
    await db.openSpaces();
    db.writeSeq = (await db.getMeta<number>('write_seq')) ?? 0;
    const durable = readDurableMark(path);
    if (durable !== undefined && durable > db.writeSeq) db.lostWrites = { durable, found: db.writeSeq };
    db.checkFreeSpace();
    await db.checkSchema();
    db.spaceTimer = setInterval(() => db.checkFreeSpace(), FREE_SPACE_CHECK_MS).unref();
    return db;
  }

  private async openSpaces(): Promise<void> {
    await Promise.all((Object.keys(KEYSPACES) as KeyspaceName[]).map((name) => this.space(name).open()));
  }

  /** The sublevel for one key space of the catalog. */
  space(name: KeyspaceName): Keyspace {
    let s = this.spaces.get(name);
    if (!s) {
      s = this.root.sublevel<Buffer, Buffer>(KEYSPACES[name], { keyEncoding: 'buffer', valueEncoding: 'buffer' });
      this.spaces.set(name, s);
    }
    return s;
  }

  /** A put operation for a multi-keyspace batch. */
  put(name: KeyspaceName, key: Buffer, value: Buffer): BatchOp {
    return { type: 'put', sublevel: this.space(name), key, value } as unknown as BatchOp;
  }

  del(name: KeyspaceName, key: Buffer): BatchOp {
    return { type: 'del', sublevel: this.space(name), key } as unknown as BatchOp;
  }

  /**
   * Writes all operations atomically; refused with `StorageFailingError` (503) while storage is
   * failing, and an I/O error here makes it fail (and start probing for recovery).
   */
  async write(ops: BatchOp[]): Promise<void> {
    if (ops.length === 0) return;
    this.health.assertWritable();
    const sync = this.syncNow();
    // Every batch that is fsync'd carries its sequence number, so the next open can tell whether the
    // log kept every batch known durable (durable-mark.ts). Batches that are not fsync'd are not
    // known durable, so they need not carry it (an extra operation per send cost ~5% of sends).
    const seq = ++this.writeSeq;
    try {
      // No options object on the common, unsynced batch: abstract-level spreads the options into
      // every operation (`{ ...options, ...op }`), and a non-empty one made that loop megamorphic:
      // 10% of a send's CPU went there (a `--cpu-prof` of 2,000 sequential sends: #arrayBatch 32 ->
      // 864 ms). The synced batches, at most one a second, take the slow path.
      if (sync) await this.root.batch([...ops, this.putMeta('write_seq', seq)], SYNCED);
      else await this.root.batch(ops);
    } catch (err) {
      throw this.faulted(err);
    }
    if (sync) this.synced(seq);
    else this.noteUnsynced();
  }

  /** After an fsync covering batch `seq`: remember it as durable (at most once a second: a file write). */
  private synced(seq: number): void {
    const now = Date.now();
    this.lastSyncAt = now;
    this.syncedSeq = seq;
    if (now - this.markWrittenAt < 1000) return;
    this.markWrittenAt = now;
    writeDurableMark(this.path, seq);
  }

  /** The fault an I/O error means (storage now failing), or the error itself for anything else. */
  private faulted(err: unknown): unknown {
    const fault = storageFaultOf(err);
    if (!fault) return err;
    this.needsReopen = true;
    const current = this.health.fail(fault);
    this.scheduleRecovery();
    return new StorageFailingError(current);
  }

  private syncNow(): boolean {
    if (this.syncMode === 'always') return true;
    if (this.syncMode === 'none') return false;
    return Date.now() - this.lastSyncAt >= this.syncIntervalMs;
  }

  /** `batch`: an unsynced write gets its fsync at most `syncIntervalMs` later, even if nothing follows it. */
  private noteUnsynced(): void {
    if (this.syncMode !== 'batch') return;
    this.unsyncedWrites = true;
    if (this.syncTimer || this.closed) return;
    const wait = Math.max(0, this.lastSyncAt + this.syncIntervalMs - Date.now());
    this.syncTimer = setTimeout(() => {
      this.syncTimer = undefined;
      void this.syncLog().catch(() => undefined);
    }, wait);
    this.syncTimer.unref();
  }

  /** fsyncs the log: a tiny synced write makes everything before it durable. */
  private async syncLog(): Promise<void> {
    if (!this.unsyncedWrites || this.health.current || this.root.status !== 'open') return;
    this.unsyncedWrites = false;
    const seq = this.writeSeq;
    try {
      await this.root.batch([this.putMeta('last_sync', Date.now()), this.putMeta('write_seq', seq)], SYNCED);
      this.synced(seq);
    } catch (err) {
      this.faulted(err);
    }
  }

  private checkFreeSpace(): void {
    const min = this.opts.minFreeBytes ?? 0;
    if (min <= 0) return;
    const free = freeBytes(this.path);
    if (free === undefined || free >= min) return;
    const mb = (n: number) => `${Math.floor(n / (1024 * 1024))} MB`;
    this.health.fail({ code: 'LOW_SPACE', reason: `free disk space ${mb(free)} is below storage.min_free_bytes (${mb(min)})` });
    this.scheduleRecovery();
  }

  private scheduleRecovery(): void {
    if (this.recoveryTimer || this.closed) return;
    this.recoveryTimer = setInterval(() => void this.tryRecover(), this.opts.recoveryIntervalMs ?? 2000);
    this.recoveryTimer.unref();
  }

  /**
   * One recovery attempt: enough free space, then (after a latched LevelDB error) close and reopen,
   * then a synced probe write. Success ends the fault; anything else waits for the next attempt.
   */
  async tryRecover(): Promise<boolean> {
    if (!this.health.current) return true;
    if (this.recovering || this.closed) return false;
    this.recovering = true;
    try {
      const min = this.opts.minFreeBytes ?? 0;
      const free = min > 0 ? freeBytes(this.path) : undefined;
      if (free !== undefined && free < min) return false;
      if (this.needsReopen) {
        // Reads running now fail while closed; the window is one reopen (milliseconds).
        await this.root.close();
        await this.root.open();
        await this.openSpaces();
        this.needsReopen = false;
      }
      await this.root.batch([this.putMeta('storage_probe', Date.now())], SYNCED);
      this.lastSyncAt = Date.now();
      this.health.recovered();
      if (this.recoveryTimer) clearInterval(this.recoveryTimer);
      this.recoveryTimer = undefined;
      return true;
    } catch (err) {
      if (storageFaultOf(err)) this.needsReopen = true;
      else if (this.root.status !== 'open') this.needsReopen = true;
      return false;
    } finally {
      this.recovering = false;
    }
  }

  /**
   * A point read on the calling thread. The async `get` hands every read to libuv's thread pool and
   * back (~35 us here, against ~1 us for the read itself when LevelDB's block cache or bloom filter
   * answers); for small keys read on every request (send transaction ids, memberships) the hop
   * costs more than the read. A read that misses the cache blocks the event loop for one block read.
   */
  getSync(name: KeyspaceName, key: Buffer): Buffer | undefined {
    return this.space(name).getSync(key);
  }

  getJsonSync<T>(name: KeyspaceName, key: Buffer): T | undefined {
    const v = this.getSync(name, key);
    return v === undefined ? undefined : decodeJson<T>(v);
  }

  async getJson<T>(name: KeyspaceName, key: Buffer): Promise<T | undefined> {
    const v = await this.space(name).get(key);
    return v === undefined ? undefined : decodeJson<T>(v);
  }

  putJson(name: KeyspaceName, key: Buffer, value: unknown): BatchOp {
    return this.put(name, key, encodeJson(value));
  }

  async getMeta<T>(name: string): Promise<T | undefined> {
    return this.getJson<T>('meta', Buffer.from(name));
  }

  putMeta(name: string, value: unknown): BatchOp {
    return this.putJson('meta', Buffer.from(name), value);
  }

  private async checkSchema(): Promise<void> {
    const version = await this.getMeta<number>('schema_version');
    if (version === undefined) {
      await this.write([this.putMeta('schema_version', STORAGE_VERSION)]);
      return;
    }
    if (version > STORAGE_VERSION) {
      throw new Error(`database schema ${version} is newer than this Hearth (${STORAGE_VERSION}); upgrade Hearth`);
    }
    await runMigrations(this, version);
  }

  async close(): Promise<void> {
    if (this.syncTimer) clearTimeout(this.syncTimer);
    // The last writes of a graceful stop are made durable before the files close.
    await this.syncLog().catch(() => undefined);
    if (this.syncedSeq > 0) writeDurableMark(this.path, this.syncedSeq);
    this.closed = true;
    for (const timer of [this.recoveryTimer, this.spaceTimer]) if (timer) clearInterval(timer);
    await this.root.close();
  }
}
