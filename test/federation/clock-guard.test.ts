import test from 'ava';
import { ClockGuard, ClockNotSetError, type ClockTimers } from '../../src/federation/clock/clock-guard.js';

const floorMs = Date.UTC(2026, 11, 1);

function rig(startMs: number, newestRecordedMs?: number) {
  let now = startMs;
  const lines: { level: string; obj: object; msg: string }[] = [];
  const intervals = new Map<number, { fn: () => void; ms: number }>();
  let next = 1;
  const timers: ClockTimers = {
    setInterval: (fn, ms) => {
      intervals.set(next, { fn, ms });
      return next++;
    },
    clearInterval: (h) => void intervals.delete(h as number),
  };
  const guard = new ClockGuard({
    floorMs,
    newestRecordedMs,
    now: () => now,
    timers,
    log: { warn: (obj, msg) => lines.push({ level: 'warn', obj, msg }), info: (obj, msg) => lines.push({ level: 'info', obj, msg }) },
  });
  return {
    guard,
    lines,
    set: (ms: number) => (now = ms),
    /** Fires every interval timer once (what time passing would do). */
    tick: () => [...intervals.values()].forEach((i) => i.fn()),
    intervalMs: () => [...intervals.values()].map((i) => i.ms),
  };
}

test('a wrong clock at start: warned once, refused with 503 M_UNKNOWN naming the clock, checked every 2 s; set: told once at info, listeners hear it, checked every 30 s', (t) => {
  const r = rig(0);
  const heard: boolean[] = [];
  r.guard.onChange((sane) => heard.push(sane));
  r.guard.start();
  t.deepEqual(r.lines.map((l) => l.level), ['warn']);
  t.regex(r.lines[0]!.msg, /clock is wrong/);
  t.like(r.lines[0]!.obj, { clockProblem: 'before-floor' });
  t.deepEqual(r.intervalMs(), [2_000]);
  const err = t.throws(() => r.guard.assertSane(), { instanceOf: ClockNotSetError });
  t.deepEqual(err!.toJSON().errcode, 'M_UNKNOWN');
  t.is(err!.status, 503);
  t.regex(err!.message, /clock is not set \(the clock reads 1970-01-01T00:00:00.000Z/);
  r.tick();
  t.is(r.lines.length, 1, 'still wrong: no new line');
  t.like(r.guard.status(), { sane: false, problem: 'before-floor', wrongSinceMs: 0 });

  r.set(floorMs + 1000);
  r.tick();
  t.deepEqual(r.lines.map((l) => l.level), ['warn', 'info']);
  t.regex(r.lines[1]!.msg, /clock is set/);
  t.deepEqual(heard, [false, true]);
  t.deepEqual(r.intervalMs(), [30_000]);
  t.notThrows(() => r.guard.assertSane());
  t.deepEqual(r.guard.status(), { sane: true, nowMs: floorMs + 1000 });
  t.is(r.guard.problem(), undefined);
});

test('a clock that jumps back behind what this server recorded is noticed on use; a time recorded while wrong is no evidence', (t) => {
  const r = rig(floorMs + 10_000_000);
  r.guard.start();
  t.is(r.lines.length, 0);
  r.guard.recorded(floorMs + 10_000_000);
  r.set(floorMs + 1_000_000);
  t.regex(r.guard.problem() ?? '', /when this server last signed an event/);
  t.deepEqual(r.lines.map((l) => l.level), ['warn']);
  // Recorded while wrong: must not become the new evidence.
  r.guard.recorded(floorMs + 20 * 365 * 24 * 3600 * 1000);
  r.set(floorMs + 10_000_000);
  t.true(r.guard.check());
  t.deepEqual(r.lines.map((l) => l.level), ['warn', 'info']);
});

test('the newest time recorded before start counts', (t) => {
  const r = rig(floorMs + 1_000, floorMs + 5 * 3600 * 1000);
  r.guard.start();
  t.like(r.guard.status(), { sane: false, problem: 'before-recorded' });
});

test('stop ends the timer, and a later check does not start one', (t) => {
  const r = rig(0);
  r.guard.start();
  r.guard.stop();
  t.deepEqual(r.intervalMs(), []);
  r.set(floorMs);
  r.guard.check();
  t.deepEqual(r.intervalMs(), []);
});
