/**
 * Whether a local client is following the rooms now: a `/sync` request open (a long-poll waiting,
 * or being answered), or one answered within a recent window (clients send the next one at once;
 * some poll with `timeout=0` every few seconds). Pull mode asks other servers more often then
 * (docs/federation.md "Behind NAT: pull mode"): someone is looking. Memory only, two numbers.
 */

/** A client whose last `/sync` ended this recently still counts as syncing. */
export const RECENT_SYNC_MS = 60_000;

export class SyncActivity {
  private open = 0;
  private lastEndedMs: number | undefined;

  constructor(private readonly now: () => number = Date.now) {}

  /** A `/sync` began; call the returned function when it ends (once; more calls are ignored). */
  begin(): () => void {
    this.open++;
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      this.open--;
      this.lastEndedMs = this.now();
    };
  }

  /** Some client has a `/sync` open or finished one within `RECENT_SYNC_MS`. */
  isActive(): boolean {
    return this.open > 0 || (this.lastEndedMs !== undefined && this.now() - this.lastEndedMs <= RECENT_SYNC_MS);
  }
}
