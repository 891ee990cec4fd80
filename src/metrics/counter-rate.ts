/**
 * A per-second rate of a counter over the last minute, for `hearth status` ("events and readings
 * per second"): samples of the counter, a bounded ring, and at the ask the counter's value now
 * against the oldest sample still in the window. Sampling is the caller's (one timer for all).
 */
export class CounterRate {
  private readonly samples: { atMs: number; value: number }[] = [];

  constructor(
    private readonly read: () => number,
    private readonly windowMs = 60_000,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.sample();
  }

  sample(): void {
    const atMs = this.now();
    this.samples.push({ atMs, value: this.read() });
    // Keep one sample at or before the window's start, so the window is covered whole once it can be.
    while (this.samples.length > 2 && this.samples[1]!.atMs <= atMs - this.windowMs) this.samples.shift();
  }

  /** Per second from the oldest sample in the window to now; 0 before any time passed. */
  perSecond(): number {
    const atMs = this.now();
    const oldest = this.samples[0]!;
    const seconds = (atMs - oldest.atMs) / 1000;
    return seconds > 0 ? Math.max(0, this.read() - oldest.value) / seconds : 0;
  }
}
