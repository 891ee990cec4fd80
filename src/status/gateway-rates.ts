/**
 * Rates of the gateway's figures (gateway-figures.ts: the status page's panel, `hearth status`),
 * from counters the gateway keeps since its start (events persisted, readings, MQTT messages, bytes
 * written), so a rate costs the hot paths nothing: events and readings per second over the last
 * minute, bytes written per hour over the last hour (SD-card wear: a short window would swing with
 * every 5-minute telemetry checkpoint and LevelDB compaction).
 *
 * Samples are taken when the figures are asked for (an open status page asks every 10 s; `hearth
 * status`, `hearth doctor`), at most one per `intervalMs`, kept for an hour, plus the one taken at
 * the start: a gateway nobody watches runs no timer for them. A page opened after a quiet spell
 * gets rates over the time since the newest sample before the window (say the last 3 hours): an
 * average over longer, never nothing.
 *
 * `ratesAt` is pure (tested with made-up samples); `GatewayRates` holds the samples.
 */

export interface CounterSample {
  /** ms, monotonic (performance.now) or wall clock: only differences are used. */
  t: number;
  events: number;
  readings: number;
  mqttMessages: number;
  /** Bytes the process had written to storage (`write_bytes` of /proc/self/io), when readable. */
  writeBytes?: number;
  /** Bytes appended to the telemetry journal. */
  journalBytes: number;
}

export interface GatewayRateFigures {
  eventsPerSecond: number;
  readingsPerSecond: number;
  mqttMessagesPerSecond: number;
  /** Over `writeWindowSeconds`; absent when the kernel does not tell (no /proc/self/io). */
  bytesWrittenPerHour?: number;
  journalBytesPerHour: number;
  /** The window the per-second rates cover (up to a minute; shorter just after start). */
  rateWindowSeconds: number;
  /** The window the per-hour figures cover (up to an hour). */
  writeWindowSeconds: number;
}

const RATE_WINDOW_MS = 60_000;
const WRITE_WINDOW_MS = 3_600_000;

/**
 * The rates between `now` (the counters read at this moment) and the oldest kept sample within each
 * window. Counters that went backwards (cannot happen within one run) count as zero.
 */
export function ratesAt(samples: readonly CounterSample[], now: CounterSample): GatewayRateFigures {
  // The oldest sample within the window; none there: the newest one before it (a longer window).
  const oldestWithin = (windowMs: number) => samples.find((s) => now.t - s.t <= windowMs) ?? samples[samples.length - 1] ?? now;
  const r = oldestWithin(RATE_WINDOW_MS);
  const w = oldestWithin(WRITE_WINDOW_MS);
  const rateSeconds = (now.t - r.t) / 1000;
  const writeHours = (now.t - w.t) / 3_600_000;
  const perSecond = (a: number, b: number) => (rateSeconds > 0 ? Math.max(0, a - b) / rateSeconds : 0);
  const perHour = (a: number, b: number) => (writeHours > 0 ? Math.max(0, a - b) / writeHours : 0);
  const figures: GatewayRateFigures = {
    eventsPerSecond: perSecond(now.events, r.events),
    readingsPerSecond: perSecond(now.readings, r.readings),
    mqttMessagesPerSecond: perSecond(now.mqttMessages, r.mqttMessages),
    journalBytesPerHour: Math.round(perHour(now.journalBytes, w.journalBytes)),
    rateWindowSeconds: Math.round(rateSeconds),
    writeWindowSeconds: Math.round(writeHours * 3600),
  };
  if (now.writeBytes !== undefined && w.writeBytes !== undefined) figures.bytesWrittenPerHour = Math.round(perHour(now.writeBytes, w.writeBytes));
  return figures;
}

/**
 * Keeps the samples it is given (status/gateway-figures.ts reads the counters when the figures are
 * asked for, and at the start), at most one per `intervalMs` (default 10 s), of the last hour.
 */
export class GatewayRates {
  private readonly samples: CounterSample[] = [];

  constructor(private readonly intervalMs = 10_000) {}

  /** The rates up to `now` (the counters read at this moment), which is kept when it is due. */
  at(now: CounterSample): GatewayRateFigures {
    const figures = ratesAt(this.samples, now);
    this.keep(now);
    return figures;
  }

  private keep(s: CounterSample): void {
    const newest = this.samples[this.samples.length - 1];
    if (newest && s.t - newest.t < this.intervalMs) return;
    this.samples.push(s);
    // Older than the window: only the newest of those is still of use (the fallback above).
    while (this.samples.length > 1 && s.t - this.samples[1]!.t > WRITE_WINDOW_MS) this.samples.shift();
  }
}
