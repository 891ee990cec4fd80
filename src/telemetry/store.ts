/**
 * The telemetry store: every reading of every sensor, kept compactly, with rollups and retention.
 * See docs/telemetry.md for the layout and the SD-card reasoning. In short:
 * - Group commit. `record()` buffers a reading; when the commit policy says so (commit-policy.ts:
 *   `adaptive`, at once when no commit ran in the last `minIntervalMs`, else that long after the
 *   last one; `interval`, every `flushIntervalMs`) or as soon as `flushBatchReadings` wait, all
 *   buffered readings of all streams are appended as one entry to the journal file (journal-file.ts:
 *   outside LevelDB, so short-lived entries are written once, not flushed and compacted), and only
 *   then do the `record()` promises resolve - which is what gates the MQTT PUBACK. At most one commit
 *   is in flight; readings arriving meanwhile go into the next.
 * - Checkpoints. Every `checkpointIntervalMs` the readings gathered since the last checkpoint are
 *   written once more, as one delta-encoded chunk per stream, together with the rollup buckets and
 *   the time of the last journal entry they cover, in one LevelDB batch; then the journal file is
 *   emptied. Each reading is thus written twice in a few bytes each, instead of one small key per
 *   reading that every compaction rewrites. (Older versions kept journal entries in LevelDB under
 *   stream 0; those are still replayed and deleted by the next checkpoint.)
 * - Rollups fold in memory; buckets reach disk at checkpoints (open buckets partially, rewritten
 *   later), so the disk holds exactly the readings up to the last checkpoint and the journal exactly
 *   those after it: a restart loads the newest buckets and replays the journal entries after the
 *   checkpoint's mark (a crash between the checkpoint and emptying the file leaves covered entries
 *   behind), without counting twice.
 */
import type { Database } from '../storage/db.js';
import type { BatchOp } from '../storage/db.js';
import { splitStrings, tuple } from '../storage/codec.js';
import { decodeChunk, decodeJournal, encodeChunk, encodeJournal, type Series } from './chunk-codec.js';
import { JournalFile } from './journal-file.js';
import { DEFAULT_COMMIT, commitPolicy, type CommitPolicy, type CommitSetting } from './commit-policy.js';
import { JOURNAL_STREAM, rawKey, readRawKey, readRollupKey, rollupKey } from './keys.js';
import { ROLLUP_SPAN_MS, type QueryResult, type Resolution, type RollupResolution, type StreamRecord, type TelemetryPoint, type TelemetryValue } from './model.js';
import { bucketStart, decodeBucket, encodeBucket, fold, newBucket, numericValue, toPoint, type Bucket } from './rollup.js';
import { expiredKeys } from './retention.js';

export interface TelemetryOptions {
  /** The journal file (`<data dir>/telemetry.journal`). */
  journalPath: string;
  /** The longest a reading waits for its commit (`interval` mode: how long every reading may wait). */
  flushIntervalMs: number;
  /** When to commit (commit-policy.ts); default `adaptive` with a 50 ms minimum interval. */
  commit?: CommitSetting;
  rawRetentionDays: number;
  rollupRetentionDays: number;
  /** How long readings live in the journal before they are written as per-stream chunks. Default 5 min. */
  checkpointIntervalMs?: number;
  /**
   * Write the group commit as soon as this many readings wait, without waiting for the interval.
   * The interval alone caps ingest at (readings in flight) per interval: QoS 1 publishers wait for
   * their PUBACKs, so 8 devices with 32 in flight each got ~250 readings/s. Default 64: large enough
   * that a batch's own overhead (key, log record, ~40 bytes) stays under 1 byte per reading, small
   * enough that a few busy publishers reach it before they all stall on their in-flight windows.
   */
  flushBatchReadings?: number;
  /** Checkpoint early when this many readings are buffered (memory bound). Default 100 000. */
  maxBufferedReadings?: number;
  /** How often expired chunks and buckets are pruned. Default 1 h. */
  pruneIntervalMs?: number;
  now?: () => number;
  logger?: { warn(obj: object, msg: string): void };
}

export interface TelemetryReading {
  /** `<device key>/<sensor key>`. */
  stream: string;
  ts: number;
  value: TelemetryValue;
}

interface StreamState {
  key: string;
  record: StreamRecord;
  /** Readings since the last checkpoint (also in the journal once flushed). */
  chunk: Series;
  lastTs: number;
  lastChunkKeyMs: number;
  open: Partial<Record<RollupResolution, Bucket>>;
  closed: Bucket[];
}

const RESOLUTIONS: RollupResolution[] = ['5m', '1h'];
const DAY_MS = 86_400_000;
/** Meta key: the time of the last journal entry the last checkpoint covers (docs/storage.md). */
const JOURNAL_MARK = 'telemetry_journal_through';
const RAW_QUERY_LIMIT = 10_000;

export class TelemetryStore {
  private readonly streams = new Map<string, StreamState>();
  private readonly byShort = new Map<number, StreamState>();
  private nextShort = JOURNAL_STREAM + 1;
  /** Readings waiting for the next group commit, as the journal's columns (no object per reading). */
  private pending: PendingColumns = emptyColumns();
  private newRecords: StreamState[] = [];
  /** The outcome of the next group commit, shared by every reading in it (one promise per batch). */
  private nextBatch: BatchOutcome | undefined;
  /** Journal entries of older versions still in LevelDB (stream 0); the next checkpoint deletes them. */
  private journalKeys: number[] = [];
  private journal!: JournalFile;
  /** Whether the journal file has entries a checkpoint has not covered yet (nothing to empty otherwise). */
  private journalDirty = false;
  private lastJournalMs = 0;
  private lastCheckpoint: number;
  private buffered = 0;
  /** The scheduled commit of the pending readings (a timer, or an immediate when the delay is 0). */
  private scheduledCommit: { cancel(): void } | undefined;
  private pruneTimer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();
  /** A commit is queued and has not taken `pending` yet: it will take every reading recorded until then. */
  private commitQueued = false;
  /** When (monotonic ms) the first of the `pending` readings arrived. */
  private fillStartedAt = 0;
  private readonly policy: CommitPolicy;
  /** Group commits that wrote readings to the journal (for tests and the bench). */
  private journalCommits = 0;
  private readonly now: () => number;
  private readonly flushBatchReadings: number;
  private readonly checkpointIntervalMs: number;
  private readonly maxBuffered: number;

  private constructor(
    private readonly db: Database,
    private readonly opts: TelemetryOptions,
  ) {
    this.now = opts.now ?? Date.now;
    this.checkpointIntervalMs = opts.checkpointIntervalMs ?? 5 * 60_000;
    this.maxBuffered = opts.maxBufferedReadings ?? 100_000;
    this.flushBatchReadings = opts.flushBatchReadings ?? 64;
    this.policy = commitPolicy(opts.commit ?? DEFAULT_COMMIT, opts.flushIntervalMs);
    this.lastCheckpoint = this.now();
  }

  /** Loads stream records and the newest buckets, then replays the journal (readings after the last checkpoint). */
  static async open(db: Database, opts: TelemetryOptions): Promise<TelemetryStore> {
    const store = new TelemetryStore(db, opts);
    await store.load();
    return store;
  }

  /** Starts the pruning job (flushes are scheduled by `record`). */
  start(): void {
    const every = this.opts.pruneIntervalMs ?? 3_600_000;
    this.pruneTimer = setInterval(() => {
      this.prune().catch((err) => this.opts.logger?.warn({ err }, 'telemetry pruning failed'));
    }, every);
    this.pruneTimer.unref();
  }

  /** Writes everything buffered as chunks (a final checkpoint) and stops the timers. */
  async stop(): Promise<void> {
    clearInterval(this.pruneTimer);
    this.cancelScheduledCommit();
    try {
      await this.checkpoint();
    } finally {
      await this.journal.close();
    }
  }

  /** Buffers a reading; resolves once the batch holding it is written (group commit). */
  record(reading: TelemetryReading): Promise<void> {
    const s = this.stream(reading.stream);
    // Times within a stream never go backwards (clock steps), so chunks and buckets stay ordered.
    const ts = Math.max(Math.round(reading.ts), s.lastTs);
    this.foldReading(s, ts, reading.value);
    const pending = this.pending;
    if (pending.streams.length === 0) this.fillStartedAt = performance.now();
    pending.streams.push(s.record.short);
    pending.ts.push(ts);
    pending.values.push(reading.value);
    const outcome = (this.nextBatch ??= batchOutcome());
    // A queued commit takes every reading recorded before it starts: nothing more to schedule.
    if (this.commitQueued) return outcome.promise;
    if (pending.streams.length >= this.flushBatchReadings) {
      const at = performance.now();
      this.policy.batchFilled(at - this.fillStartedAt, at);
      void this.flush();
    } else if (!this.scheduledCommit) {
      this.scheduleCommit(this.policy.delayMs(performance.now()));
    }
    return outcome.promise;
  }

  /** Group commits so far that wrote readings to the journal. */
  get commits(): number {
    return this.journalCommits;
  }

  /** Bytes written to the journal file since start (checkpoints go to LevelDB, counted in its size). */
  get journalBytesWritten(): number {
    return this.journal.bytesAppended;
  }

  private scheduleCommit(delayMs: number): void {
    const commit = () => {
      this.scheduledCommit = undefined;
      void this.flush();
    };
    // 0: after the I/O callbacks of this turn, so the readings of messages read together share it.
    if (delayMs <= 0) {
      const immediate = setImmediate(commit);
      this.scheduledCommit = { cancel: () => clearImmediate(immediate) };
    } else {
      const timer = setTimeout(commit, delayMs);
      this.scheduledCommit = { cancel: () => clearTimeout(timer) };
    }
  }

  private cancelScheduledCommit(): void {
    this.scheduledCommit?.cancel();
    this.scheduledCommit = undefined;
  }

  /** Writes the buffered readings now (one batch). */
  flush(): Promise<void> {
    return this.enqueue(false);
  }

  /** Writes the buffered readings and folds the journal into per-stream chunks now. */
  checkpoint(): Promise<void> {
    return this.enqueue(true);
  }

  /** Sets a stream's unit or retention overrides (days; `undefined` keeps the config default). */
  async configureStream(stream: string, settings: Omit<StreamRecord, 'short'>): Promise<void> {
    const s = this.stream(stream);
    Object.assign(s.record, settings);
    await this.db.write([this.db.putJson('telemetryStreams', tuple(stream), s.record)]);
  }

  knownStream(stream: string): boolean {
    return this.streams.has(stream);
  }

  /** Every stream key the store knows, sorted (for `hearth export` to name the choices). */
  streamKeys(): string[] {
    return [...this.streams.keys()].sort();
  }

  /**
   * Runs `fn` between two group commits: no journal append, checkpoint or journal truncation runs
   * until it settles (readings keep being buffered meanwhile). A backup opens its LevelDB snapshot
   * and copies the journal file inside `fn`, so the two agree: a checkpoint between them would
   * empty the journal after the snapshot was taken, and the readings it covered would be in neither.
   */
  async betweenCommits<T>(fn: () => Promise<T>): Promise<T> {
    let result!: Promise<T>;
    // The commit chain never rejects (writeBatch handles its own errors): keep it that way.
    const turn = this.flushing.then(() => {
      result = fn();
      return result.then(
        () => undefined,
        () => undefined,
      );
    });
    this.flushing = turn;
    await turn;
    return result;
  }

  /**
   * Closes the journal without a checkpoint: for a reader (`hearth export` on a stopped gateway)
   * that recorded nothing and must leave the database as it found it.
   */
  async closeReadOnly(): Promise<void> {
    clearInterval(this.pruneTimer);
    this.cancelScheduledCommit();
    await this.journal.close();
  }

  /** Readings or rollups of one stream in `[from, to]`; `auto` picks a resolution by the span. */
  async query(stream: string, from: number, to: number, resolution: Resolution | 'auto', limit = RAW_QUERY_LIMIT): Promise<QueryResult> {
    const res = resolution === 'auto' ? autoResolution(to - from) : resolution;
    const s = this.streams.get(stream);
    if (res === 'raw') return { resolution: 'raw', points: s ? await this.queryRaw(s, from, to, limit) : [] };
    return { resolution: res, points: s ? (await this.queryRollup(s, res, from, to)).map(toPoint) : [] };
  }

  /** Deletes chunks and buckets past their stream's retention; returns how many keys went. */
  async prune(): Promise<number> {
    const now = this.now();
    let deleted = 0;
    for (const s of this.streams.values()) {
      const rawCutoff = now - (s.record.rawRetentionDays ?? this.opts.rawRetentionDays) * DAY_MS;
      const rollupCutoff = now - (s.record.rollupRetentionDays ?? this.opts.rollupRetentionDays) * DAY_MS;
      const ops = await expiredKeys(this.db, s.record.short, rawCutoff, rollupCutoff);
      await this.db.write(ops);
      // Buckets still in memory expire too, or queries would show what the disk no longer has.
      s.closed = s.closed.filter((b) => b.start >= rollupCutoff);
      for (const res of RESOLUTIONS) {
        if ((s.open[res]?.start ?? Infinity) < rollupCutoff) delete s.open[res];
      }
      deleted += ops.length;
    }
    return deleted;
  }

  // ---- writing ----

  private enqueue(forceCheckpoint: boolean): Promise<void> {
    this.cancelScheduledCommit();
    this.commitQueued = true;
    this.flushing = this.flushing.then(() => this.writeBatch(forceCheckpoint));
    return this.flushing;
  }

  /**
   * One group commit:
   * 1. new stream records;
   * 2. either a checkpoint (chunks, buckets, journal deletions) when one is due,
   * 3. or one journal entry with every buffered reading;
   * 4. one atomic batch; then the waiters of these readings are answered.
   */
  private async writeBatch(forceCheckpoint: boolean): Promise<void> {
    this.commitQueued = false;
    this.policy.committing(performance.now());
    const pending = this.pending;
    const outcome = this.nextBatch;
    const records = this.newRecords;
    this.pending = emptyColumns();
    this.nextBatch = undefined;
    this.newRecords = [];
    const now = this.now();
    const ops: BatchOp[] = records.map((s) => this.db.putJson('telemetryStreams', tuple(s.key), s.record));
    const checkpointDue = forceCheckpoint || now - this.lastCheckpoint >= this.checkpointIntervalMs || this.buffered >= this.maxBuffered;
    let afterWrite: () => void = () => undefined;
    let journalMs: number | undefined;
    if (checkpointDue) {
      afterWrite = this.checkpointTxn(ops);
      ops.push(this.db.putMeta(JOURNAL_MARK, this.lastJournalMs));
    } else if (pending.streams.length > 0) {
      journalMs = Math.max(now, this.lastJournalMs + 1);
    }
    try {
      // New stream records first: a journal entry naming a stream the database does not know
      // would be skipped on replay.
      await this.db.write(ops);
      if (journalMs !== undefined) {
        await this.journal.append(journalMs, encodeJournal(journalMs, pending.streams, pending.ts, pending.values));
        this.lastJournalMs = journalMs;
        this.journalDirty = true;
        this.journalCommits++;
      }
    } catch (err) {
      this.newRecords.push(...records);
      outcome?.reject(err);
      return;
    }
    afterWrite();
    if (checkpointDue) {
      this.lastCheckpoint = now;
      if (this.journalDirty) {
        this.journalDirty = false;
        // Covered by the checkpoint's mark: if this fails, the entries are only replayed-and-skipped.
        await this.journal.clear().catch((err) => this.opts.logger?.warn({ err }, 'emptying the telemetry journal failed'));
      }
    }
    outcome?.resolve();
  }

  /**
   * Adds a checkpoint to `ops` and returns what to forget once it is written. Only what exists now is
   * covered: readings recorded while the batch is being written stay for the next flush.
   */
  private checkpointTxn(ops: BatchOp[]): () => void {
    const covered: { s: StreamState; readings: number; closed: Set<Bucket>; keyMs: number }[] = [];
    for (const s of this.streams.values()) {
      const n = s.chunk.ts.length;
      let keyMs = s.lastChunkKeyMs;
      if (n > 0) {
        // Chunk keys are unique per stream: a chunk never starts at or before the previous one's key.
        keyMs = Math.max(s.chunk.ts[0]!, s.lastChunkKeyMs + 1);
        ops.push(this.db.put('telemetryRaw', rawKey(s.record.short, keyMs), encodeChunk(keyMs, { ts: s.chunk.ts.slice(0, n), values: s.chunk.values.slice(0, n) })));
      }
      for (const b of [...s.closed, ...Object.values(s.open)]) {
        ops.push(this.db.put('telemetryRollup', rollupKey(s.record.short, b.res, b.start), encodeBucket(b)));
      }
      covered.push({ s, readings: n, closed: new Set(s.closed), keyMs });
    }
    const journal = this.journalKeys.slice();
    for (const ms of journal) ops.push(this.db.del('telemetryRaw', rawKey(JOURNAL_STREAM, ms)));
    return () => {
      for (const c of covered) {
        c.s.chunk.ts.splice(0, c.readings);
        c.s.chunk.values.splice(0, c.readings);
        c.s.closed = c.s.closed.filter((b) => !c.closed.has(b));
        c.s.lastChunkKeyMs = c.keyMs;
        this.buffered -= c.readings;
      }
      this.journalKeys.splice(0, journal.length);
    };
  }

  private foldReading(s: StreamState, ts: number, value: TelemetryValue): void {
    s.lastTs = ts;
    s.chunk.ts.push(ts);
    s.chunk.values.push(value);
    this.buffered++;
    const v = numericValue(value);
    if (v === undefined) return;
    for (const res of RESOLUTIONS) {
      const b = s.open[res];
      if (b && b.start === bucketStart(ts, res)) {
        fold(b, v);
        continue;
      }
      if (b) s.closed.push(b);
      s.open[res] = newBucket(res, ts, v);
    }
  }

  private stream(key: string): StreamState {
    let s = this.streams.get(key);
    if (!s) {
      s = this.addStream(key, { short: this.nextShort++ });
      this.newRecords.push(s);
    }
    return s;
  }

  private addStream(key: string, record: StreamRecord): StreamState {
    const s: StreamState = { key, record, chunk: { ts: [], values: [] }, lastTs: 0, lastChunkKeyMs: -1, open: {}, closed: [] };
    this.streams.set(key, s);
    this.byShort.set(record.short, s);
    this.nextShort = Math.max(this.nextShort, record.short + 1);
    return s;
  }

  // ---- loading ----

  private async load(): Promise<void> {
    for await (const [k, v] of this.db.space('telemetryStreams').iterator()) {
      const key = splitStrings(k, 1).strings[0]!;
      this.addStream(key, JSON.parse(Buffer.from(v).toString('utf8')) as StreamRecord);
    }
    const raw = this.db.space('telemetryRaw');
    const rollups = this.db.space('telemetryRollup');
    for (const s of this.streams.values()) {
      for await (const [k] of raw.iterator({ gte: rawKey(s.record.short, 0), lt: rawKey(s.record.short + 1, 0), reverse: true, limit: 1 })) {
        s.lastChunkKeyMs = readRawKey(k).ms;
        s.lastTs = s.lastChunkKeyMs;
      }
      for (const res of RESOLUTIONS) {
        const range = { gte: rollupKey(s.record.short, res, 0), lte: rollupKey(s.record.short, res, Number.MAX_SAFE_INTEGER), reverse: true, limit: 1 };
        for await (const [k, v] of rollups.iterator(range)) s.open[res] = decodeBucket(res, readRollupKey(k).startMs, v);
      }
    }
    // Replay readings after the last checkpoint: they live only in the journal. First entries older
    // versions kept in LevelDB, then the journal file's entries after the last checkpoint's mark.
    for await (const [k, v] of raw.iterator({ gte: rawKey(JOURNAL_STREAM, 0), lt: rawKey(JOURNAL_STREAM + 1, 0) })) {
      const ms = readRawKey(k).ms;
      this.replay(ms, v);
      this.journalKeys.push(ms);
    }
    const mark = (await this.db.getMeta<number>(JOURNAL_MARK)) ?? 0;
    this.lastJournalMs = Math.max(this.lastJournalMs, mark);
    const { journal, records } = await JournalFile.open(this.opts.journalPath);
    this.journal = journal;
    for (const r of records) {
      if (r.ms <= mark) continue;
      this.replay(r.ms, r.payload);
      this.journalDirty = true;
    }
  }

  private replay(ms: number, payload: Uint8Array): void {
    const entry = decodeJournal(ms, payload);
    entry.streams.forEach((short, i) => {
      const s = this.byShort.get(short);
      if (s) this.foldReading(s, Math.max(entry.ts[i]!, s.lastTs), entry.values[i]!);
    });
    this.lastJournalMs = Math.max(this.lastJournalMs, ms);
  }

  // ---- reading ----

  private async queryRaw(s: StreamState, from: number, to: number, limit: number): Promise<TelemetryPoint[]> {
    const out: TelemetryPoint[] = [];
    const take = (series: Series) => {
      series.ts.forEach((ts, i) => {
        if (ts >= from && ts <= to && out.length < limit) out.push({ ts, value: series.values[i]! });
      });
    };
    const raw = this.db.space('telemetryRaw');
    const short = s.record.short;
    // The chunk that starts before `from` may still hold readings inside the range.
    for await (const [k, v] of raw.iterator({ gte: rawKey(short, 0), lt: rawKey(short, from), reverse: true, limit: 1 })) {
      take(decodeChunk(readRawKey(k).ms, v));
    }
    for await (const [k, v] of raw.iterator({ gte: rawKey(short, from), lte: rawKey(short, to) })) {
      if (out.length >= limit) break;
      take(decodeChunk(readRawKey(k).ms, v));
    }
    take(s.chunk);
    return out;
  }

  private async queryRollup(s: StreamState, res: RollupResolution, from: number, to: number): Promise<Bucket[]> {
    const buckets = new Map<number, Bucket>();
    const range = { gte: rollupKey(s.record.short, res, bucketStart(from, res)), lte: rollupKey(s.record.short, res, to) };
    for await (const [k, v] of this.db.space('telemetryRollup').iterator(range)) {
      const start = readRollupKey(k).startMs;
      buckets.set(start, decodeBucket(res, start, v));
    }
    // Memory holds buckets newer than (or more complete than) the last checkpoint's.
    const open = s.open[res];
    for (const b of [...s.closed, ...(open ? [open] : [])]) {
      if (b.res === res && b.start + ROLLUP_SPAN_MS[res] > from && b.start <= to) buckets.set(b.start, b);
    }
    return [...buckets.values()].sort((a, b) => a.start - b.start);
  }
}

interface PendingColumns {
  streams: number[];
  ts: number[];
  values: TelemetryValue[];
}

function emptyColumns(): PendingColumns {
  return { streams: [], ts: [], values: [] };
}

interface BatchOutcome {
  promise: Promise<void>;
  resolve: () => void;
  reject: (err: unknown) => void;
}

function batchOutcome(): BatchOutcome {
  let resolve!: () => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Up to 6 h of raw readings, up to 7 days of 5-minute buckets, hourly beyond. */
export function autoResolution(spanMs: number): Resolution {
  if (spanMs <= 6 * 3_600_000) return 'raw';
  if (spanMs <= 7 * DAY_MS) return '5m';
  return '1h';
}
