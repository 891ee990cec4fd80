import test from 'ava';
import pino from 'pino';
import { PullSchedule } from '../../src/federation/catchup/pull-schedule.js';
import type { CursorTimers } from '../../src/stream/stream-cursor.js';

/** Timers that fire only when told: `elapse()` fires the pending one and counts its delay as elapsed time. */
function fakeTimers() {
  let pending: { fn: () => void; ms: number } | undefined;
  let elapsedMs = 0;
  const timers: CursorTimers = {
    setTimeout: (fn, ms) => (pending = { fn, ms }),
    clearTimeout: () => void (pending = undefined),
  };
  return {
    timers,
    elapsed: () => elapsedMs,
    armed: () => pending !== undefined,
    async elapse() {
      const p = pending!;
      pending = undefined;
      elapsedMs += p.ms;
      p.fn();
      // A round is async: let it end and arm the next timer.
      for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
    },
  };
}

function rig(opts: { intervalMs: number; activeIntervalMs?: number }) {
  const clock = fakeTimers();
  let active = false;
  const roundsAt: number[] = [];
  const schedule = new PullSchedule({
    ...opts,
    clientActive: () => active,
    servers: async () => ['peer.example'],
    pull: async () => void roundsAt.push(clock.elapsed()),
    log: pino({ level: 'silent' }),
    timers: clock.timers,
  });
  return {
    schedule,
    roundsAt,
    setActive: (a: boolean) => (active = a),
    armed: clock.armed,
    /** Lets time pass until `atMs` (timer firings). */
    async until(atMs: number) {
      while (clock.elapsed() < atMs) await clock.elapse();
    },
    /** Lets time pass until `n` rounds have run (at most 1000 timer firings). */
    async untilRounds(n: number) {
      for (let i = 0; i < 1000 && roundsAt.length < n; i++) await clock.elapse();
    },
  };
}

test('no client syncing: a round every idle interval', async (t) => {
  const r = rig({ intervalMs: 60_000, activeIntervalMs: 5_000 });
  r.schedule.start();
  await r.untilRounds(3);
  t.deepEqual(r.roundsAt, [60_000, 120_000, 180_000]);
  t.is(r.schedule.currentIntervalMs(), 60_000);
});

test('a client syncing: a round every active interval; when it stops, back to the idle interval', async (t) => {
  const r = rig({ intervalMs: 60_000, activeIntervalMs: 5_000 });
  r.setActive(true);
  t.is(r.schedule.currentIntervalMs(), 5_000);
  r.schedule.start();
  await r.untilRounds(3);
  t.deepEqual(r.roundsAt, [5_000, 10_000, 15_000]);
  r.setActive(false);
  await r.untilRounds(4);
  t.deepEqual(r.roundsAt, [5_000, 10_000, 15_000, 75_000]);
});

test('a client that starts syncing during a long wait is served within one active interval', async (t) => {
  const r = rig({ intervalMs: 60_000, activeIntervalMs: 5_000 });
  r.schedule.start();
  await r.untilRounds(1);
  await r.until(80_000);
  t.deepEqual(r.roundsAt, [60_000], 'no round 20 s into the idle wait');
  r.setActive(true);
  await r.untilRounds(2);
  t.deepEqual(r.roundsAt, [60_000, 85_000]);
});

test('without a shorter active interval the idle one applies whatever the clients do', async (t) => {
  for (const activeIntervalMs of [undefined, 0, 90_000]) {
    const r = rig({ intervalMs: 60_000, ...(activeIntervalMs !== undefined ? { activeIntervalMs } : {}) });
    r.setActive(true);
    r.schedule.start();
    await r.untilRounds(2);
    t.deepEqual(r.roundsAt, [60_000, 120_000], `activeIntervalMs ${activeIntervalMs}`);
  }
});

test('pull mode off (interval 0): no timer, no round', async (t) => {
  const r = rig({ intervalMs: 0, activeIntervalMs: 5_000 });
  r.setActive(true);
  r.schedule.start();
  t.false(r.armed());
  t.deepEqual(r.roundsAt, []);
});
