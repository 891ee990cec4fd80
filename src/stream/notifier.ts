/**
 * The stream position and the one notifier. Every persisted change that a client may need to see
 * (room events, account data, receipts, to-device messages, profile changes) takes the next global
 * stream position; `/sync` tokens are built on it.
 *
 * Positions are reserved before a batch is written and settled after; batches can land out of order,
 * so readers only ever see the *settled* position: the highest one below which every reserved
 * position has been written. Waiters (sync long-polls, the federation sender) wake when it advances.
 */
export class StreamNotifier {
  private lastReserved: number;
  private settled: number;
  private readonly pending = new Set<number>();
  private waiters = new Set<() => void>();
  /** Set on shutdown: long-polls answer at once so the server can close its connections. */
  private shutDown = false;
  /** Ephemeral changes (typing) that need a wake-up but no stream position. */
  private ephemeralSerial = 0;

  constructor(persistedPosition: number) {
    this.lastReserved = persistedPosition;
    this.settled = persistedPosition;
  }

  /** Reserves the next stream position for a batch about to be written. */
  reserve(): number {
    const pos = ++this.lastReserved;
    this.pending.add(pos);
    return pos;
  }

  /** Marks a reserved position as written (or abandoned) and wakes waiters if the settled position moved. */
  settle(pos: number): void {
    this.pending.delete(pos);
    let next = this.settled;
    while (next < this.lastReserved && !this.pending.has(next + 1)) next++;
    if (next !== this.settled) {
      this.settled = next;
      this.wake();
    }
  }

  /** The highest position readers may rely on. */
  get position(): number {
    return this.settled;
  }

  /** True once the gateway is stopping: waits answer at once, so followers of the stream end. */
  get closed(): boolean {
    return this.shutDown;
  }

  get ephemeral(): number {
    return this.ephemeralSerial;
  }

  /** Wakes waiters for a change that has no stream position (typing notifications). */
  notifyEphemeral(): void {
    this.ephemeralSerial++;
    this.wake();
  }

  /**
   * Resolves at the next change after this call, or after `timeoutMs`, or when `signal` aborts.
   * Returns true when woken by a change.
   */
  waitForChange(timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    if (this.shutDown) return Promise.resolve(false);
    return new Promise((resolve) => {
      let done = false;
      const finish = (changed: boolean) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        this.waiters.delete(onChange);
        signal?.removeEventListener('abort', onAbort);
        resolve(changed);
      };
      const onChange = () => finish(true);
      const onAbort = () => finish(false);
      const timer = setTimeout(() => finish(false), Math.max(0, timeoutMs));
      this.waiters.add(onChange);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /**
   * Resolves once every position up to `pos` is settled (true), or after `timeoutMs` (false). A
   * writer calls it before answering, so what it wrote is visible to its next read: positions
   * settle in order, and a concurrent batch that reserved an earlier position and is still being
   * written would otherwise hide it from /messages and /sync for that long (read-your-writes).
   */
  async waitUntilSettled(pos: number, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (this.settled < pos) {
      const remaining = deadline - Date.now();
      if (remaining <= 0 || this.shutDown) return false;
      await this.waitForChange(remaining);
    }
    return true;
  }

  /** Ends every pending wait (as "no change") and all future ones: the gateway is stopping. */
  close(): void {
    this.shutDown = true;
    const current = this.waiters;
    this.waiters = new Set();
    for (const w of current) w();
  }

  private wake(): void {
    const current = this.waiters;
    this.waiters = new Set();
    for (const w of current) w();
  }
}
