/**
 * Gives memory back after a burst of work, once the gateway is idle again.
 *
 * V8 sizes its old generation for the peak of a burst and collects it lazily: 10 s after 10,000
 * sends the heap still held ~30 MB of garbage (49.7 MB used; 18.4 MB live after a full collection),
 * and its memory reducer did not run within that time. On a 1 GB gateway that sits idle most of the
 * day, that is RSS for nothing. So: every few seconds, if the event loop was (nearly) idle during the
 * last interval and the heap's committed size grew by more than `minGrowthBytes` since the last trim,
 * collect. Committed, not used: V8 may have collected the garbage itself at the end of the burst
 * and still keep the pages (46 MB committed for 20 MB used, measured). A busy gateway is left alone (V8 collects under load by itself); an idle one pays one
 * collection of a small heap (tens of ms) per burst.
 *
 * Needs `--expose-gc` (NODE_FLAGS in the Makefile, bin/hearth.js, the systemd unit); without it
 * this does nothing.
 */
import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';

export interface IdleHeapTrimOptions {
  /** How often idleness is checked. */
  intervalMs?: number;
  /** Event-loop utilisation over the last interval at or below which the gateway counts as idle. */
  maxUtilization?: number;
  /** Growth of the heap's committed size since the last trim (or start) that makes a collection worth its pause. */
  minGrowthBytes?: number;
  /** The collector; defaults to `globalThis.gc` (present with `--expose-gc`). */
  gc?: () => void;
  onTrim?: (info: { beforeBytes: number; afterBytes: number; ms: number }) => void;
}

export interface IdleHeapTrim {
  /** Whether a collector is available (false without `--expose-gc`). */
  readonly active: boolean;
  stop(): void;
}

export function startIdleHeapTrim(opts: IdleHeapTrimOptions = {}): IdleHeapTrim {
  const gc = opts.gc ?? (globalThis as { gc?: () => void }).gc;
  if (!gc) return { active: false, stop: () => undefined };
  const intervalMs = opts.intervalMs ?? 2000;
  const maxUtilization = opts.maxUtilization ?? 0.05;
  const minGrowthBytes = opts.minGrowthBytes ?? 8 * 1024 * 1024;

  let baseline = heapCommitted();
  let lastElu: EventLoopUtilization = performance.eventLoopUtilization();
  const timer = setInterval(() => {
    const elu = performance.eventLoopUtilization(lastElu);
    lastElu = performance.eventLoopUtilization();
    const before = heapCommitted();
    if (elu.utilization > maxUtilization || before - baseline < minGrowthBytes) return;
    const start = performance.now();
    // The first collection frees the garbage; the pages it empties are only handed back to the
    // system by the next one (measured after 10k sends: heap total 47 MB after one, 22 MB after two).
    gc();
    gc();
    baseline = heapCommitted();
    opts.onTrim?.({ beforeBytes: before, afterBytes: baseline, ms: performance.now() - start });
  }, intervalMs);
  timer.unref();
  return { active: true, stop: () => clearInterval(timer) };
}

function heapCommitted(): number {
  return getHeapStatistics().total_heap_size;
}
