/**
 * A bounded queue for expensive work: at most `concurrency` jobs run at once, at most `maxWaiting`
 * wait, and the next one is refused at once (`WorkQueueFullError`) instead of queueing without end.
 *
 * Why password hashing needs one: scrypt runs on libuv's thread pool (4 threads by default), the
 * same pool that runs every asynchronous LevelDB read and write. 200 parallel wrong-password logins
 * queued 200 scrypt jobs (~60 ms each) ahead of every database operation and stalled sends for
 * seconds; one hash at a time leaves the other threads to the database.
 */

export class WorkQueueFullError extends Error {
  constructor(
    readonly queue: string,
    /** A hint for the caller's `retry_after_ms`: roughly when the queue will have drained. */
    readonly retryAfterMs: number,
  ) {
    super(`${queue} is busy: ${queue} queue full`);
    this.name = 'WorkQueueFullError';
  }
}

export interface WorkQueueOptions {
  name: string;
  concurrency: number;
  maxWaiting: number;
  /** Expected duration of one job, for the retry hint. */
  typicalJobMs: number;
}

export class BoundedWorkQueue {
  private running = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(private readonly opts: WorkQueueOptions) {
    if (opts.concurrency < 1 || opts.maxWaiting < 0) throw new Error('a work queue needs concurrency >= 1 and maxWaiting >= 0');
  }

  /** Jobs running and waiting, for status reports. */
  get depth(): { running: number; waiting: number } {
    return { running: this.running, waiting: this.waiting.length };
  }

  async run<T>(job: () => Promise<T>): Promise<T> {
    if (this.running >= this.opts.concurrency) {
      if (this.waiting.length >= this.opts.maxWaiting) {
        const drainMs = ((this.waiting.length + this.running) / this.opts.concurrency) * this.opts.typicalJobMs;
        throw new WorkQueueFullError(this.opts.name, Math.max(1000, Math.ceil(drainMs)));
      }
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else {
      this.running++;
    }
    try {
      return await job();
    } finally {
      // Hand the slot straight to the next waiter (running stays the same), or free it.
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    }
  }
}
