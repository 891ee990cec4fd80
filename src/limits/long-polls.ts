/**
 * How many /sync long-polls may be parked at once, in total and per user. Each parked request holds
 * a socket and, when it wakes, builds a response at the same moment as every other one: 6,000 of
 * them reached 422 MB when one event woke them all. Beyond the caps a long-poll is refused with 429
 * M_LIMIT_EXCEEDED and `retry_after_ms` (docs/errors.md) rather than answered at once with nothing
 * new: an immediate empty answer sends clients straight back (a busy loop that costs more than the
 * wait it replaces), while every client SDK backs off on 429.
 */

export interface LongPollCaps {
  maxLongPolls: number;
  maxLongPollsPerUser: number;
}

/** How long a refused long-poll is told to wait: about one quiet long-poll cycle of a client. */
export const LONG_POLL_RETRY_AFTER_MS = 2000;

export class LongPollGate {
  private total = 0;
  private readonly perUser = new Map<string, number>();

  constructor(private readonly caps: LongPollCaps) {}

  /** Takes a slot for `userId`; returns its release, or undefined when a cap is reached. */
  enter(userId: string): (() => void) | undefined {
    const mine = this.perUser.get(userId) ?? 0;
    if (this.total >= this.caps.maxLongPolls || mine >= this.caps.maxLongPollsPerUser) return undefined;
    this.total++;
    this.perUser.set(userId, mine + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.total--;
      const left = (this.perUser.get(userId) ?? 1) - 1;
      if (left === 0) this.perUser.delete(userId);
      else this.perUser.set(userId, left);
    };
  }

  /** Long-polls parked now, and how many users hold them. */
  get active(): { total: number; users: number } {
    return { total: this.total, users: this.perUser.size };
  }
}
