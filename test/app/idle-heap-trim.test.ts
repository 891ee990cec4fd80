import test from 'ava';
import { startIdleHeapTrim } from '../../src/app/idle-heap-trim.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('an idle process whose heap grew is collected (twice per trim, so emptied pages go back)', async (t) => {
  let calls = 0;
  const trims: { beforeBytes: number; afterBytes: number }[] = [];
  const trim = startIdleHeapTrim({ gc: () => void calls++, intervalMs: 50, minGrowthBytes: 0, maxUtilization: 1, onTrim: (i) => trims.push(i) });
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
