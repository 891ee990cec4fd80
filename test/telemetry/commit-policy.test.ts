/**
 * The group-commit policy (issue 14) on a simulated clock: no timings are measured, the policy's
 * decisions are replayed on a discrete-event schedule and the commits counted.
 */
import test from 'ava';
import { AdaptivePolicy, IntervalPolicy, commitPolicy, type CommitPolicy } from '../../src/telemetry/commit-policy.js';

test('adaptive: a reading that finds no recent commit is committed on the next turn', (t) => {
  const policy: CommitPolicy = new AdaptivePolicy(50, 1000);
  t.is(policy.delayMs(10_000), 0, 'nothing was ever committed');
  policy.committing(10_000);
  t.is(policy.delayMs(10_020), 30, 'a reading 20 ms after a commit waits out the minimum interval');
  t.is(policy.delayMs(10_050), 0);
  t.is(policy.delayMs(11_000), 0, 'a lone device at 1 Hz never waits');
});

test('adaptive: never longer than the flush interval, and 0 ms means a classic group commit', (t) => {
  const capped = new AdaptivePolicy(5000, 1000);
  capped.committing(0);
  t.is(capped.delayMs(1), 1000);
  const classic = new AdaptivePolicy(0, 1000);
  classic.committing(0);
  t.is(classic.delayMs(0), 0, 'the store chains it after the commit in flight');
});

test('interval: a reading waits the flush interval, shorter right after a burst (as before issue 14)', (t) => {
  const policy: CommitPolicy = new IntervalPolicy(1000);
  t.is(policy.delayMs(0), 1000);
  policy.committing(0);
  t.is(policy.delayMs(10), 1000, 'a commit does not shorten the wait');
  policy.batchFilled(40, 500);
  t.is(policy.delayMs(600), 80, 'twice the fill time of the batch that just filled');
  t.is(policy.delayMs(1500), 1000, 'the burst is over after an interval');
});

test('commitPolicy picks the mode', (t) => {
  t.true(commitPolicy({ mode: 'adaptive', minIntervalMs: 50 }, 1000) instanceof AdaptivePolicy);
  t.true(commitPolicy({ mode: 'interval', minIntervalMs: 50 }, 1000) instanceof IntervalPolicy);
});

/**
 * Replays the store's scheduling (telemetry/store.ts) on a simulated clock. Readings arrive at the
 * given times (equal times: the same turn of the event loop). The first reading that finds no commit
 * scheduled or queued asks the policy for a delay; when it is due the commit is queued, and it
 * starts once the commit in flight (if any) has finished: one in flight, lasting `commitMs`. A commit
 * takes every reading that arrived until it started; 64 waiting readings queue one at once.
 * Returns each reading's wait and the number of commits.
 */
function simulate(policy: CommitPolicy, arrivals: number[], commitMs: number): { waits: number[]; commits: number } {
  const waits: number[] = [];
  let pending: number[] = [];
  let scheduledAt: number | undefined;
  let queuedStart: number | undefined;
  let busyUntil = Number.NEGATIVE_INFINITY;
  let commits = 0;
  /** Runs what is due strictly before `now` (readings at `now` itself still join). */
  const settle = (now: number) => {
    if (scheduledAt !== undefined && scheduledAt < now) {
      queuedStart = Math.max(scheduledAt, busyUntil);
      scheduledAt = undefined;
    }
    if (queuedStart !== undefined && queuedStart < now) {
      policy.committing(queuedStart);
      busyUntil = queuedStart + commitMs;
      for (const arrived of pending) waits.push(busyUntil - arrived);
      pending = [];
      queuedStart = undefined;
      commits++;
    }
  };
  for (const at of arrivals) {
    settle(at);
    pending.push(at);
    if (queuedStart !== undefined) continue;
    if (pending.length >= 64) {
      policy.batchFilled(0, at);
      scheduledAt = undefined;
      queuedStart = Math.max(at, busyUntil);
    } else if (scheduledAt === undefined) {
      scheduledAt = at + policy.delayMs(at);
    }
  }
  settle(Number.POSITIVE_INFINITY);
  return { waits, commits };
}

const SECONDS = 60;
/** One device at 1 Hz. */
const lone = Array.from({ length: SECONDS }, (_, s) => s * 1000 + 3);
/** 200 devices at 1 Hz, each at its own phase of the second. */
const fleet = Array.from({ length: SECONDS * 200 }, (_, i) => Math.floor(i / 200) * 1000 + (i % 200) * 5 + ((i * 7919) % 5) / 10);

test('adaptive: a lone device at 1 Hz gets one commit per reading, without waiting', (t) => {
  const { waits, commits } = simulate(new AdaptivePolicy(50, 1000), lone, 0.5);
  t.is(commits, SECONDS);
  t.true(waits.every((w) => w === 0.5), 'each reading waits only for its own commit');
});

test('interval: the same device waits the whole interval for each reading', (t) => {
  // 800 ms, not 1 s: at exactly 1 s the next reading would arrive in the same instant and share it.
  const { waits, commits } = simulate(new IntervalPolicy(800), lone, 0.5);
  t.is(commits, SECONDS);
  t.true(waits.every((w) => w === 800.5));
});

test('adaptive: 200 devices at 1 Hz share commits, at most one per minimum interval', (t) => {
  const { waits, commits } = simulate(new AdaptivePolicy(50, 1000), fleet, 0.5);
  t.true(commits <= (SECONDS * 1000) / 50 + 1, `${commits} commits in ${SECONDS} s`);
  t.true(commits >= SECONDS * 10, 'and not fewer than needed: readings do not wait for the flush interval');
  t.is(waits.length, fleet.length, 'every reading was committed');
  t.true(Math.max(...waits) <= 50.5, 'no reading waits longer than the minimum interval and a commit');
  const perCommit = fleet.length / commits;
  t.true(perCommit >= 9, `${perCommit.toFixed(1)} readings share a commit`);
});

test('adaptive with no minimum interval: commits still never overlap, readings in one commit share it', (t) => {
  const burst = Array.from({ length: 200 }, () => 0);
  t.is(simulate(new AdaptivePolicy(0, 1000), burst, 2).commits, 1, '200 readings arriving together share one commit');
  const { waits, commits } = simulate(new AdaptivePolicy(0, 1000), fleet, 8);
  t.true(commits < fleet.length / 1.5, `commits slower than arrivals (8 ms vs 5 ms): ${commits} commits for ${fleet.length} readings`);
  t.true(Math.max(...waits) <= 16, 'a reading waits at most for the commit in flight and its own');
});
