/**
 * StreamCursor: resumes from its saved position after a restart, walks in bounded batches, backs
 * off on failure (exponentially, with jitter) and retries at once when poked, wakes on new stream
 * positions and stops cleanly. Timers are replaced by a hand-driven clock: nothing here waits for
 * time to pass.
 */
import test from 'ava';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Database } from '../../src/storage/db.js';
import { StreamNotifier } from '../../src/stream/notifier.js';
import { StreamCursorPositions } from '../../src/stream/cursor-positions.js';
import { StreamCursor, type CursorPosition, type CursorProgress, type CursorTimers, type StreamCursorOptions } from '../../src/stream/stream-cursor.js';

interface Entry {
  stream: number;
}

/** A stream of entries at positions 1..n, and a notifier settled at n. */
function streamOf(n: number) {
  const entries: Entry[] = Array.from({ length: n }, (_, i) => ({ stream: i + 1 }));
  const notifier = new StreamNotifier(n);
  const reads: { after: number; upTo: number; limit: number }[] = [];
  return {
    entries,
    notifier,
    reads,
    read: async (after: number, upTo: number, limit: number) => {
      reads.push({ after, upTo, limit });
      return entries.filter((e) => e.stream > after && e.stream <= upTo).slice(0, limit);
    },
    /** Appends an entry at the next position and settles it (as a persisted event does). */
    append(): number {
      const pos = notifier.reserve();
      entries.push({ stream: pos });
      notifier.settle(pos);
      return pos;
    },
  };
}

/** Timers driven by the test: `fire()` runs the pending retry. */
function manualTimers() {
  const pending = new Map<number, { fn: () => void; ms: number }>();
  let next = 1;
  const timers: CursorTimers = {
    setTimeout: (fn, ms) => {
      pending.set(next, { fn, ms });
      return next++;
    },
    clearTimeout: (handle) => void pending.delete(handle as number),
  };
  return {
    timers,
    delays: () => [...pending.values()].map((p) => p.ms),
    fire() {
      const [[handle, { fn }]] = [...pending];
      pending.delete(handle);
      fn();
    },
  };
}

function memoryPosition(initial = 0): CursorPosition & { saves: number[] } {
  const saves: number[] = [];
  return {
    saves,
    load: async () => saves.at(-1) ?? initial,
    save: async (p) => void saves.push(p),
  };
}

function cursor(opts: Partial<StreamCursorOptions<Entry>> & Pick<StreamCursorOptions<Entry>, 'position' | 'notifier' | 'read' | 'process'>): StreamCursor<Entry> {
  return new StreamCursor<Entry>({ timers: manualTimers().timers, ...opts });
}

test('resumes after a restart from the saved position: what was saved is not processed again, what was not is', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hearth-cursor-'));
  const s = streamOf(10);
  let db = await Database.open(dir, { cacheSizeBytes: 1 << 20, writeBufferSizeBytes: 1 << 20 });
  t.teardown(() => db.close());

  // First run: 1..3 handled, 2 saved durably (a push sent), then the process fails at 4 and the gateway "crashes".
  const first = cursor({
    position: new StreamCursorPositions(db).position('federation:one.example'),
    notifier: s.notifier,
    read: s.read,
    persistEvery: 1000,
    process: async (batch, progress) => {
      for (const e of batch) {
        if (e.stream === 4) throw new Error('peer unreachable');
        await progress.reached(e.stream, { durable: e.stream === 2 });
      }
    },
  });
  await first.start();
  await first.idle();
  t.is(first.position, 3, 'in memory it got to 3');
  t.true(first.backingOff);
  s.notifier.close(); // the crash: no stop(), so 3 is never saved
  await db.close();

  db = await Database.open(dir, { cacheSizeBytes: 1 << 20, writeBufferSizeBytes: 1 << 20 });
  const s2 = streamOf(10);
  const seen: number[] = [];
  const second = cursor({
    position: new StreamCursorPositions(db).position('federation:one.example'),
    notifier: s2.notifier,
    read: s2.read,
    process: async (batch) => void seen.push(...batch.map((e) => e.stream)),
  });
  await second.start();
  await second.idle();
  t.deepEqual(seen, [3, 4, 5, 6, 7, 8, 9, 10], 'resumes after the saved 2: 3 again (never saved), then the rest');
  t.is(second.position, 10);
  await second.stop();
  t.is(await new StreamCursorPositions(db).position('federation:one.example').load(), 10, 'stop saves the position');
  t.is(await new StreamCursorPositions(db).position('federation:other.example', 7).load(), 7, 'another consumer starts at its initial position');
});

test('walks in bounded batches, in order, and ends level with the stream', async (t) => {
  const s = streamOf(250);
  const batches: number[][] = [];
  const position = memoryPosition();
  const c = cursor({ position, notifier: s.notifier, read: s.read, batchSize: 100, persistEvery: 120, process: async (batch) => void batches.push(batch.map((e) => e.stream)) });
  await c.start();
  await c.idle();
  t.deepEqual(
    batches.map((b) => b.length),
    [100, 100, 50],
  );
  t.deepEqual(batches.flat(), Array.from({ length: 250 }, (_, i) => i + 1), 'every entry once, in order');
  t.true(s.reads.every((r) => r.limit === 100), 'no read asks for more than a batch');
  t.deepEqual(
    s.reads.map((r) => r.after),
    [0, 100, 200],
  );
  t.is(c.position, 250);
  t.deepEqual(position.saves, [200], 'saved once the position moved persistEvery past the last save');
  await c.stop();
  t.deepEqual(position.saves, [200, 250], 'and at stop');
});

test('positions without entries are passed: the cursor moves to the head', async (t) => {
  const s = streamOf(3);
  s.notifier.settle(s.notifier.reserve()); // position 4: a receipt, say, with no stream entry
  const c = cursor({ position: memoryPosition(), notifier: s.notifier, read: s.read, process: async () => undefined });
  await c.start();
  await c.idle();
  t.is(c.position, 4);
  await c.stop();
});

test('a failure backs off exponentially with jitter; poke retries at once and resets the backoff', async (t) => {
  const s = streamOf(5);
  const clock = manualTimers();
  let failOn: number | undefined = 3;
  const attempts: number[] = [];
  let jitter = 1;
  const errors: number[] = [];
  const c = new StreamCursor<Entry>({
    position: memoryPosition(),
    notifier: s.notifier,
    read: s.read,
    timers: clock.timers,
    random: () => jitter,
    backoff: { firstMs: 1_000, maxMs: 8_000 },
    onError: (_err, ms) => errors.push(ms),
    process: async (batch, progress) => {
      for (const e of batch) {
        attempts.push(e.stream);
        if (e.stream === failOn) throw new Error('gateway down');
        await progress.reached(e.stream);
      }
    },
  });
  await c.start();
  await c.idle();
  t.deepEqual(attempts, [1, 2, 3]);
  t.deepEqual(clock.delays(), [1_000], 'the first retry after firstMs (jitter at its top)');

  // New positions do not cut a backoff short.
  s.append();
  c.wake();
  await c.idle();
  t.deepEqual(attempts, [1, 2, 3]);

  for (const expected of [2_000, 4_000, 8_000, 8_000]) {
    clock.fire();
    await c.idle();
    t.deepEqual(clock.delays(), [expected], 'each failure without progress doubles the delay, up to maxMs');
  }
  t.is(c.failureCount, 5);
  t.deepEqual(attempts, [1, 2, 3, 3, 3, 3, 3], 'the failing entry is retried, never skipped, nothing before it repeated');

  // The jitter takes the delay down to half of it, never below.
  jitter = 0;
  clock.fire();
  await c.idle();
  t.deepEqual(clock.delays(), [4_000]);

  // The far side is back: poke drops the pending retry and walks now.
  failOn = undefined;
  c.poke();
  t.deepEqual(clock.delays(), [], 'the pending retry is cancelled');
  await c.idle();
  t.deepEqual(attempts.slice(-4), [3, 4, 5, 6], 'retried at once, then on to the head');
  t.is(c.position, 6);
  t.is(c.failureCount, 0);
  t.false(c.backingOff);

  // A new failure starts from the first delay again.
  jitter = 1;
  failOn = s.append();
  c.wake();
  await c.idle();
  t.deepEqual(clock.delays(), [1_000]);
  t.deepEqual(errors, [1_000, 2_000, 4_000, 8_000, 8_000, 4_000, 1_000], 'each failure was reported with its delay');
  await c.stop();
  t.deepEqual(clock.delays(), [], 'stop cancels the retry');
});

test('progress since the last failure starts the backoff afresh', async (t) => {
  const s = streamOf(4);
  const clock = manualTimers();
  const failAt = new Set([2, 4]);
  const c = new StreamCursor<Entry>({
    position: memoryPosition(),
    notifier: s.notifier,
    read: s.read,
    timers: clock.timers,
    random: () => 1,
    backoff: { firstMs: 1_000, maxMs: 60_000 },
    process: async (batch, progress) => {
      for (const e of batch) {
        if (failAt.has(e.stream)) {
          failAt.delete(e.stream);
          throw new Error('flaky');
        }
        await progress.reached(e.stream);
      }
    },
  });
  await c.start();
  await c.idle();
  t.deepEqual(clock.delays(), [1_000]);
  clock.fire(); // 2 and 3 go through, 4 fails once
  await c.idle();
  t.deepEqual(clock.delays(), [1_000], 'not 2 s: the walk moved since the last failure');
  t.is(c.position, 3);
  clock.fire();
  await c.idle();
  t.is(c.position, 4);
  t.false(c.backingOff);
  await c.stop();
});

test('wakes on new stream positions and runs caughtUp after the entries; a failing caughtUp is retried like an entry', async (t) => {
  const s = streamOf(0);
  const clock = manualTimers();
  const log: string[] = [];
  let badgeFails = true;
  let seen: () => void = () => undefined;
  const c = new StreamCursor<Entry>({
    position: memoryPosition(),
    notifier: s.notifier,
    read: s.read,
    timers: clock.timers,
    random: () => 1,
    process: async (batch, progress) => {
      for (const e of batch) {
        log.push(`entry ${e.stream}`);
        await progress.reached(e.stream);
      }
      seen();
    },
    caughtUp: async () => {
      log.push('caught up');
      if (badgeFails) throw new Error('badge not sent');
    },
  });
  await c.start();
  await c.idle();
  t.deepEqual(clock.delays(), [1_000], 'the failed caughtUp waits for its retry');
  badgeFails = false;
  clock.fire();
  await c.idle();

  // A persisted event settles a new position: the cursor's follower wakes it.
  const processed = new Promise<void>((resolve) => (seen = resolve));
  s.append();
  await processed;
  await c.idle();
  t.deepEqual(log, ['caught up', 'caught up', 'entry 1', 'caught up'], 'the failed caughtUp was retried by the timer; the new entry came before the next caughtUp');
  await c.stop();
});

test('stop lets the running batch end at its next entry and saves what was reached, not the batch end', async (t) => {
  const s = streamOf(10);
  const position = memoryPosition();
  let stopRequested: () => void = () => undefined;
  const atThird = new Promise<void>((resolve) => (stopRequested = resolve));
  let release: () => void = () => undefined;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const handled: number[] = [];
  const c = cursor({
    position,
    notifier: s.notifier,
    read: s.read,
    process: async (batch, progress: CursorProgress) => {
      for (const e of batch) {
        if (progress.stopping) return;
        handled.push(e.stream);
        await progress.reached(e.stream);
        if (e.stream === 3) {
          stopRequested();
          await gate;
        }
      }
    },
  });
  await c.start();
  await atThird;
  const stopped = c.stop();
  release();
  await stopped;
  t.deepEqual(handled, [1, 2, 3]);
  t.deepEqual(position.saves, [3], 'the position saved is the last entry reached');
  c.wake();
  c.poke();
  await c.idle();
  t.deepEqual(handled, [1, 2, 3], 'a stopped cursor stays stopped');
});
