import test from 'ava';
import { startIdleHeapTrim } from '../../src/app/idle-heap-trim.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('an idle process whose heap grew is collected (twice per trim, so emptied pages go back)', async (t) => {
  let calls = 0;
  const trims: { beforeBytes: number; afterBytes: number }[] = [];
  const trim = startIdleHeapTrim({ gc: () => void calls++, intervalMs: 50, minGrowthBytes: 0, maxUtilization: 1, youngGenerationBytes: () => 0, onTrim: (i) => trims.push(i) });
  t.true(trim.active);
  await sleep(300);
  trim.stop();
  t.true(trims.length >= 1);
  t.is(calls, trims.length * 2);
  t.true(trims.every((i) => i.beforeBytes > 0 && i.afterBytes > 0));
});

test('a busy event loop is left alone', async (t) => {
  let calls = 0;
  // Utilisation is never at or below -1: the process never counts as idle.
  const trim = startIdleHeapTrim({ gc: () => void calls++, intervalMs: 20, minGrowthBytes: 0, maxUtilization: -1 });
  await sleep(150);
  trim.stop();
  t.is(calls, 0);
});

test('no collection without enough heap growth since the last one', async (t) => {
  let calls = 0;
  const trim = startIdleHeapTrim({ gc: () => void calls++, intervalMs: 20, minGrowthBytes: 1024 ** 4, maxUtilization: 1 });
  await sleep(150);
  trim.stop();
  t.is(calls, 0);
});

test('without a collector (no --expose-gc) it is off', (t) => {
  const saved = (globalThis as { gc?: unknown }).gc;
  delete (globalThis as { gc?: unknown }).gc;
  try {
    const trim = startIdleHeapTrim();
    t.false(trim.active);
    trim.stop();
  } finally {
    if (saved) (globalThis as { gc?: unknown }).gc = saved;
  }
});

test('a grown young generation is offered scavenges once idle long enough, until it is down to its floor', async (t) => {
  const calls: string[] = [];
  let young = 4 * 1024 * 1024;
  const shrinks: { beforeBytes: number; afterBytes: number }[] = [];
  const trim = startIdleHeapTrim({
    gc: (o) => {
      calls.push(o?.type ?? 'major');
      // V8 keeps the size at the first scavenge (its window still holds the burst), shrinks at the second.
      if (o?.type === 'minor' && calls.length === 2) young = 2 * 1024 * 1024;
    },
    intervalMs: 20,
    youngShrinkAfterMs: 100,
    minGrowthBytes: 1024 ** 4,
    maxUtilization: 1,
    youngGenerationBytes: () => young,
    onYoungShrink: (i) => shrinks.push(i),
  });
  await sleep(50);
  t.deepEqual(calls, [], 'not before the idle delay');
  await sleep(300);
  t.deepEqual(calls, ['minor', 'minor']);
  t.deepEqual(shrinks, [{ beforeBytes: 4 * 1024 * 1024, afterBytes: 2 * 1024 * 1024 }]);
  // Grown again while still idle: nothing more until a busy interval re-arms it.
  young = 8 * 1024 * 1024;
  await sleep(200);
  t.deepEqual(calls, ['minor', 'minor']);
  trim.stop();
});

test('a young generation V8 will not shrink gets at most five scavenges per idle period', async (t) => {
  let minors = 0;
  const trim = startIdleHeapTrim({
    gc: (o) => void (o?.type === 'minor' && minors++),
    intervalMs: 10,
    youngShrinkAfterMs: 20,
    minGrowthBytes: 1024 ** 4,
    maxUtilization: 1,
    youngGenerationBytes: () => 4 * 1024 * 1024,
  });
  await sleep(300);
  trim.stop();
  t.is(minors, 5);
});

test("a trim's own collections do not make the next interval count as busy", async (t) => {
  const calls: string[] = [];
  const spin = (ms: number) => {
    const end = performance.now() + ms;
    while (performance.now() < end);
  };
  const trim = startIdleHeapTrim({
    // A trim (two full collections) blocks the loop for 30 of the 50 ms interval: measured from
    // before it, the next interval would be ~60% busy and restart the idle period, so no scavenge
    // would ever be offered.
    gc: (o) => {
      calls.push(o?.type ?? 'major');
      if (!o) spin(15);
    },
    intervalMs: 50,
    youngShrinkAfterMs: 150,
    minGrowthBytes: 0,
    maxUtilization: 0.3,
    youngGenerationBytes: () => 4 * 1024 * 1024,
  });
  await sleep(800);
  trim.stop();
  t.true(calls.includes('minor'), calls.join(','));
});
