/**
 * When the pull after a server became reachable should run (issue 12 "Coming back"). Our
 * transaction has just reset the peer's backoff, and Synapse then pushes what it queued for us (its
 * own catch-up); pulling while that push is still arriving fetched the same events a second time
 * (a 30-message catch-up cost 74 KB against Synapse's 25 KB). So: not before `settleMs` after it
 * became reachable, then not while it pushed PDUs within the last `settleMs`, and at the latest
 * `maxWaitMs` after it became reachable (a peer pushing other rooms all the time is still pulled).
 * Pure: the caller schedules.
 *
 * Returns the milliseconds to wait before asking again, or 0 to pull now.
 */
export function pullDelay(now: number, reachableAt: number, lastPushAt: number | undefined, opts: { settleMs: number; maxWaitMs: number }): number {
  const earliest = reachableAt + opts.settleMs;
  if (now < earliest) return earliest - now;
  if (now - reachableAt >= opts.maxWaitMs) return 0;
  if (lastPushAt !== undefined && now - lastPushAt < opts.settleMs) return Math.min(opts.settleMs - (now - lastPushAt), reachableAt + opts.maxWaitMs - now);
  return 0;
}
