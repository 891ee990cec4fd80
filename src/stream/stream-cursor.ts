/**
 * A stream cursor: one consumer's durable walk along the global stream. Pushers walk it per phone
 * (push/pushers.ts); the federation sender will walk it per destination server.
 *
 * - Durable: the consumer's position (everything at or below it is handled) is loaded at start and
 *   saved as the walk moves, so a restart resumes where the last run stopped. The consumer says
 *   which steps must be saved at once (after a side effect that must not repeat, such as a push
 *   sent); others are saved every `persistEvery` positions and at stop (fewer SD-card writes).
 * - Bounded: entries are read and handed to `process` in batches of at most `batchSize`.
 * - In order, nothing skipped: when `process` (or `caughtUp`) fails, the walk stops at the last
 *   entry the consumer reached and is retried after an exponential backoff with jitter (so many
 *   cursors failing together do not retry together); progress since the previous failure starts
 *   the backoff afresh. `poke()` (the far side is back: a request from the destination server, the
 *   uplink up again) drops the backoff and retries at once.
 * - Awake: it follows the notifier, so a new settled position starts a walk; `wake()` asks for one
 *   too (during a backoff the retry timer decides when).
 * - Stops cleanly: `stop()` lets the running batch end at its next entry, then saves the position.
 */
import type { StreamNotifier } from './notifier.js';

/** Where a consumer's position is kept: its own record (a pusher) or {@link StreamCursorPositions}. */
export interface CursorPosition {
  /** The saved position; 0 for a consumer that never saved one. */
  load(): Promise<number>;
  save(position: number): Promise<void>;
}

/** What `process` reports back while it works through a batch. */
export interface CursorProgress {
  /**
   * Every entry up to and including stream position `stream` is handled. With `durable`, the
   * position is saved before this resolves: a failure or a crash later repeats nothing before it.
   */
  reached(stream: number, opts?: { durable?: boolean }): Promise<void>;
  /** True once `stop()` was called: return early, after reporting what was reached. */
  readonly stopping: boolean;
}

/** Timers, replaceable in tests (which must not depend on time). */
export interface CursorTimers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface StreamCursorOptions<E extends { stream: number }> {
  position: CursorPosition;
  notifier: Pick<StreamNotifier, 'position' | 'waitForChange' | 'closed'>;
  /** Stream entries with positions in (after, upTo], oldest first, at most `limit`. */
  read(after: number, upTo: number, limit: number): Promise<E[]>;
  /**
   * Handles a batch, in order. Returning means the whole batch is handled; throwing keeps what
   * `progress.reached` reported and retries the rest after a backoff.
   */
  process(batch: readonly E[], progress: CursorProgress): Promise<void>;
  /** Work that must follow the entries, run when a walk has caught up (may throw like `process`). */
  caughtUp?(): Promise<void>;
  /** Told of each failure and the delay before the retry (for the log). */
  onError?(err: unknown, retryInMs: number): void;
  /** Entries per batch (default 100). */
  batchSize?: number;
  /** Backoff doubling from `firstMs` up to `maxMs` (defaults 1 s and 5 min). */
  backoff?: { firstMs: number; maxMs: number };
  /** Save a position that moved this far without a durable step (default 1000). */
  persistEvery?: number;
  timers?: CursorTimers;
  /** In [0, 1): the jitter (tests pin it). */
  random?: () => number;
}

/** How long a follower waits for the notifier before looking again anyway. */
const FOLLOW_TIMEOUT_MS = 60_000;

const realTimers: CursorTimers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms).unref(),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

export class StreamCursor<E extends { stream: number }> {
  private pos = 0;
  private saved = 0;
  private started = false;
  private stopped = false;
  private running: Promise<void> | undefined;
  /** A wake-up came while a walk was running: walk again when it ends. */
  private again = false;
  private failures = 0;
  private retryTimer: unknown;
  private readonly abort = new AbortController();
  private following: Promise<void> | undefined;
  private readonly batchSize: number;
  private readonly persistEvery: number;
  private readonly timers: CursorTimers;

  constructor(private readonly opts: StreamCursorOptions<E>) {
    this.batchSize = Math.max(1, opts.batchSize ?? 100);
    this.persistEvery = opts.persistEvery ?? 1000;
    this.timers = opts.timers ?? realTimers;
  }

  /** Loads the saved position, walks to the head of the stream and follows it until {@link stop}. */
  async start(): Promise<void> {
    if (this.started) return;
    this.pos = this.saved = await this.opts.position.load();
    // Stopped while loading: nothing to follow, nothing to save.
    if (this.stopped) return;
    this.started = true;
    this.following = this.follow();
    this.wake();
  }

  /** Everything at or below this position is handled (saved or not yet). */
  get position(): number {
    return this.pos;
  }

  /** Consecutive failures without progress (0 when healthy). */
  get failureCount(): number {
    return this.failures;
  }

  /** Whether a retry is waiting for its backoff. */
  get backingOff(): boolean {
    return this.retryTimer !== undefined;
  }

  /** There may be something to do: walk now, unless a backoff is running (its timer will). */
  wake(): void {
    if (!this.started || this.stopped || this.retryTimer !== undefined) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.run().finally(() => {
      this.running = undefined;
      // A wake-up between the walk's last check of `again` and here found `running` still set:
      // honour it now, or it is lost until the next change of the stream (an EDU waited 30 s).
      if (this.again) {
        this.again = false;
        this.wake();
      }
    });
  }

  /** The far side is back: forget the backoff and retry at once. */
  poke(): void {
    if (!this.started || this.stopped) return;
    this.failures = 0;
    if (this.retryTimer !== undefined) {
      this.timers.clearTimeout(this.retryTimer);
      this.retryTimer = undefined;
    }
    this.wake();
  }

  /** Resolves once no walk is running (tests, and stop). */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  /** Stops following, lets a running batch end at its next entry, and saves the position. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.abort.abort();
    if (this.retryTimer !== undefined) this.timers.clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    await this.idle();
    await this.following;
    if (this.started && this.pos !== this.saved) await this.save();
  }

  private async run(): Promise<void> {
    do {
      this.again = false;
      const from = this.pos;
      try {
        await this.walk();
        this.failures = 0;
      } catch (err) {
        if (this.stopped) return;
        // Progress since the last failure: the far side works again, start the backoff afresh.
        this.failures = this.pos > from ? 1 : this.failures + 1;
        const delay = this.backoffDelay();
        this.opts.onError?.(err, delay);
        this.retryTimer = this.timers.setTimeout(() => {
          this.retryTimer = undefined;
          this.wake();
        }, delay);
        return;
      }
    } while (this.again && !this.stopped);
  }

  private async walk(): Promise<void> {
    const cursor = this;
    const progress: CursorProgress = {
      reached: async (stream, opts) => {
        this.advance(stream);
        if (opts?.durable) await this.save();
      },
      get stopping() {
        return cursor.stopped;
      },
    };
    while (!this.stopped) {
      const head = this.opts.notifier.position;
      if (this.pos >= head) break;
      const batch = await this.opts.read(this.pos, head, this.batchSize);
      if (batch.length > 0) await this.opts.process(batch, progress);
      // Stopped inside the batch: only what the consumer reported is handled.
      if (this.stopped) return;
      // A short batch read everything up to the head (positions without entries included).
      this.advance(batch.length < this.batchSize ? head : batch[batch.length - 1]!.stream);
      if (this.pos - this.saved >= this.persistEvery) await this.save();
    }
    if (!this.stopped) await this.opts.caughtUp?.();
  }

  private advance(stream: number): void {
    if (stream > this.pos) this.pos = stream;
  }

  private async save(): Promise<void> {
    const pos = this.pos;
    await this.opts.position.save(pos);
    this.saved = pos;
  }

  /** Exponential backoff with "equal jitter": between half and all of the doubled delay. */
  private backoffDelay(): number {
    const { firstMs, maxMs } = this.opts.backoff ?? { firstMs: 1_000, maxMs: 5 * 60_000 };
    const base = Math.min(maxMs, firstMs * 2 ** Math.min(this.failures - 1, 30));
    const random = this.opts.random ?? Math.random;
    return Math.round(base / 2 + (base / 2) * random());
  }

  /** Wakes on every change of the stream; ends when stopped or when the notifier closes. */
  private async follow(): Promise<void> {
    const { notifier } = this.opts;
    while (!this.stopped && !notifier.closed) {
      await notifier.waitForChange(FOLLOW_TIMEOUT_MS, this.abort.signal);
      if (this.stopped || notifier.closed) return;
      this.wake();
    }
  }
}
