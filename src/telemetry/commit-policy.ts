/**
 * When the telemetry store writes its next group commit (`telemetry.commit`, docs/telemetry.md
 * "Group commit"). A QoS 1 reading is acknowledged (PUBACK) only once its commit is written, so this
 * decides both how long a device waits for its PUBACK and how many journal entries the SD card gets.
 *
 * - `interval`: a reading waits for more to share its commit, up to `flush_interval_ms` (shorter
 *   right after a burst, see IntervalPolicy). Fewest entries, but a lone device waits the whole
 *   interval for each PUBACK (issue 14: `mosquitto_pub -q 1` took 1.00 s every time).
 * - `adaptive` (default): a classic group commit. A reading that finds no commit written in the last
 *   `min_interval_ms` is committed at once (on the next turn of the event loop, so readings of the
 *   same message or tick share it); otherwise it waits until `min_interval_ms` after the last commit
 *   started, and every reading arriving meanwhile shares that commit. At most one commit is in
 *   flight (the store chains them), and commits start at most once per `min_interval_ms`, so under
 *   load readings share commits as with `interval`, only more of them per second.
 *
 * Why a minimum interval rather than "commit whenever none is in flight": a commit is one write(2)
 * to the journal file (page cache, not an fsync) and takes well under a millisecond, so without a
 * floor 200 devices at 1 Hz would each get their own entry (~25 bytes of framing per entry: 16 of
 * record header, ~8 of CBOR arrays), and the journal would grow by ~25 B per reading more. With a
 * 50 ms floor that is at most 20 entries a second, ~2.5 B per reading at 200 readings/s, and a
 * reading among them waits 25 ms on average instead of filling a 64-reading batch (~0.3 s).
 */
export type CommitMode = 'adaptive' | 'interval';

export interface CommitSetting {
  mode: CommitMode;
  /** `adaptive`: the shortest time between the starts of two commits. */
  minIntervalMs: number;
}

export const COMMIT_MODES: readonly CommitMode[] = ['adaptive', 'interval'];

export const DEFAULT_COMMIT: Readonly<CommitSetting> = { mode: 'adaptive', minIntervalMs: 50 };

/** Times are monotonic milliseconds (performance.now() in the store, anything in tests). */
export interface CommitPolicy {
  /**
   * How long the pending readings may wait before they are committed; asked when a reading arrives
   * and no commit is scheduled or queued. 0: on the next turn of the event loop.
   */
  delayMs(now: number): number;
  /** A commit took the pending readings at `now`. */
  committing(now: number): void;
  /** A batch filled up (the size trigger) `fillMs` after its first reading, at `now`. */
  batchFilled(fillMs: number, now: number): void;
}

export function commitPolicy(setting: CommitSetting, flushIntervalMs: number): CommitPolicy {
  return setting.mode === 'interval' ? new IntervalPolicy(flushIntervalMs) : new AdaptivePolicy(setting.minIntervalMs, flushIntervalMs);
}

export class AdaptivePolicy implements CommitPolicy {
  private lastCommitAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly minIntervalMs: number,
    private readonly flushIntervalMs: number,
  ) {}

  delayMs(now: number): number {
    const untilAllowed = this.lastCommitAt + this.minIntervalMs - now;
    return Math.min(this.flushIntervalMs, Math.max(0, untilAllowed));
  }

  committing(now: number): void {
    this.lastCommitAt = now;
  }

  batchFilled(): void {
    // A full batch is written at once in both modes; nothing to learn from it here.
  }
}

/**
 * The interval policy (before issue 14 the only one). A reading may wait `flushIntervalMs` for more
 * to share its batch. Right after a burst (a batch filled up within the last interval) it is twice
 * that batch's fill time instead: at the end of a burst the readings left are fewer than a batch,
 * and their QoS 1 publishers are stalled on full in-flight windows until these PUBACKs, so nothing
 * more arrives to fill the batch and waiting the whole interval only idles them (at 8 publishers x
 * 32 in flight, ~1 s of a 2 s run). While the rate holds, batches still fill before the shorter
 * timer (200 sensors at 1 Hz fill one every ~0.3 s), so the number of writes, and SD-card wear,
 * changes only when a burst ends; below a batch per interval nothing changes.
 */
export class IntervalPolicy implements CommitPolicy {
  private lastFullBatch: { fillMs: number; at: number } | undefined;

  constructor(private readonly flushIntervalMs: number) {}

  delayMs(now: number): number {
    const burst = this.lastFullBatch;
    const interval = this.flushIntervalMs;
    if (!burst || now - burst.at >= interval) return interval;
    return Math.min(interval, Math.max(1, 2 * burst.fillMs));
  }

  committing(): void {
    // The interval runs from the first reading of a batch, not from the last commit.
  }

  batchFilled(fillMs: number, now: number): void {
    this.lastFullBatch = { fillMs, at: now };
  }
}
