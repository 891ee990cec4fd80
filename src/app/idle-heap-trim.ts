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
 * The young generation is the other half. Under a burst V8 grows it up to `--max-semi-space-size`
 * (a 2 MB limit took ~25% of the main thread's work off MQTT ingest against 1 MB: fewer in-flight
 * messages are promoted and marked) but only shrinks it back in a scavenge's epilogue when the
 * allocation rate over its last 5 s was below ~1 KB/ms (V8 `Heap::ReduceNewSpaceSize`); a major
 * collection never does, and an idle gateway scavenges rarely. So once the loop has been idle for
 * `youngShrinkAfterMs` (longer than V8's 5 s window) and the young generation is above its smallest
 * size seen, one minor collection lets V8 shrink it (measured: 4 -> 2 MB committed, 16 -> 1-3 MB with
 * 8 MB semi-spaces). V8's window may still hold the end of the burst, so up to five scavenges, one per
 * interval, are offered per idle period until the size is down to the smallest seen; a busy
 * interval re-arms it.
 *
 * Needs `--expose-gc` (NODE_FLAGS in the Makefile, bin/hearth.js, the systemd unit); without it
 * this does nothing.
 */
import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import { getHeapSpaceStatistics, getHeapStatistics } from 'node:v8';

/** `globalThis.gc` with `--expose-gc`: a full collection by default, a scavenge with `type: 'minor'`. */
export type Collector = (options?: { type: 'major' | 'minor' }) => void;

export interface IdleHeapTrimOptions {
  /** How often idleness is checked. */
  intervalMs?: number;
  /** Event-loop utilisation over the last interval at or below which the gateway counts as idle. */
  maxUtilization?: number;
  /** Growth of the heap's committed size since the last trim (or start) that makes a collection worth its pause. */
  minGrowthBytes?: number;
  /** Continuous idleness after which a grown young generation is offered a shrinking scavenge. */
  youngShrinkAfterMs?: number;
  /** The collector; defaults to `globalThis.gc` (present with `--expose-gc`). */
  gc?: Collector;
  /** The young generation's committed size; defaults to V8's `new_space`. */
  youngGenerationBytes?: () => number;
  onTrim?: (info: { beforeBytes: number; afterBytes: number; ms: number }) => void;
  onYoungShrink?: (info: { beforeBytes: number; afterBytes: number }) => void;
}

export interface IdleHeapTrim {
  /** Whether a collector is available (false without `--expose-gc`). */
  readonly active: boolean;
  stop(): void;
}

/** Shrinking scavenges offered per idle period (one per interval) before giving up until busy again. */
const MAX_YOUNG_ATTEMPTS = 5;

export function startIdleHeapTrim(opts: IdleHeapTrimOptions = {}): IdleHeapTrim {
  const maybeGc = opts.gc ?? (globalThis as { gc?: Collector }).gc;
  if (!maybeGc) return { active: false, stop: () => undefined };
  const gc: Collector = maybeGc;
  const intervalMs = opts.intervalMs ?? 2000;
  const maxUtilization = opts.maxUtilization ?? 0.05;
  const minGrowthBytes = opts.minGrowthBytes ?? 8 * 1024 * 1024;
  const youngShrinkAfterMs = opts.youngShrinkAfterMs ?? 6000;
  const youngBytes = opts.youngGenerationBytes ?? youngGenerationCommitted;

  let baseline = heapCommitted();
  /** The smallest young generation a shrinking scavenge has left (unknown until one did). */
  let youngFloor = 0;
  /** When the current run of idle intervals began; undefined while busy. */
  let idleSince: number | undefined;
  /** Scavenges offered in this idle period: V8's throughput window may still hold the burst. */
  let youngAttempts = 0;
  let lastElu: EventLoopUtilization = performance.eventLoopUtilization();
  const timer = setInterval(() => {
    const elu = performance.eventLoopUtilization(lastElu);
    try {
      check(elu.utilization);
    } finally {
      // The next interval is measured from here, after this check's own collections: a trim's two
      // full collections took ~5-10% of a 2 s interval on a loaded 2-core machine (more on a Pi),
      // which made the interval after every trim count as busy and restarted the idle period, so the
      // young generation was shrunk 2 s later than it should be (after the bench's 10 s idle point:
      // 3 MB of RSS more, 4 instead of 1 MB committed).
      lastElu = performance.eventLoopUtilization();
    }
  }, intervalMs);
  timer.unref();
  return { active: true, stop: () => clearInterval(timer) };

  function check(utilization: number): void {
    if (utilization > maxUtilization) {
      idleSince = undefined;
      youngAttempts = 0;
      return;
    }
    const now = performance.now();
    idleSince ??= now - intervalMs;
    if (youngAttempts < MAX_YOUNG_ATTEMPTS && now - idleSince >= youngShrinkAfterMs) {
      const young = youngBytes();
      if (young > youngFloor) {
        youngAttempts++;
        gc({ type: 'minor' });
        const after = youngBytes();
        if (after < young) {
          youngFloor = youngFloor === 0 ? after : Math.min(youngFloor, after);
          opts.onYoungShrink?.({ beforeBytes: young, afterBytes: after });
        }
        // Down to the smallest size V8 has shrunk to: done until the next busy period.
        if (after <= youngFloor) youngAttempts = MAX_YOUNG_ATTEMPTS;
      }
    }
    const before = heapCommitted();
    if (before - baseline < minGrowthBytes) return;
    const start = performance.now();
    // The first collection frees the garbage; the pages it empties are only handed back to the
    // system by the next one (measured after 10k sends: heap total 47 MB after one, 22 MB after two).
    gc();
    gc();
    baseline = heapCommitted();
    opts.onTrim?.({ beforeBytes: before, afterBytes: baseline, ms: performance.now() - start });
  }
}

function youngGenerationCommitted(): number {
  return getHeapSpaceStatistics().find((space) => space.space_name === 'new_space')?.space_size ?? 0;
}

function heapCommitted(): number {
  return getHeapStatistics().total_heap_size;
}
