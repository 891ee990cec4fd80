/**
 * Rates for the status page's gateway panel, from counters the gateway keeps since its start
 * (events persisted, readings, MQTT messages, bytes written). A sample of the counters is kept
 * every `intervalMs` for the last hour, so a rate needs no extra work on the hot paths: events and
 * readings per second over the last minute, bytes written per hour over the last hour (SD-card
 * wear: a short window would swing with every 5-minute telemetry checkpoint and LevelDB compaction).
 *
 * `ratesAt` is pure (tested with made-up samples); `GatewayRates` holds the samples and its timer.
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
  const oldestWithin = (windowMs: number) => samples.find((s) => now.t - s.t <= windowMs) ?? now;
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

export interface GatewayRatesOptions {
  /** Reads the counters now. */
  read(): Promise<CounterSample>;
  intervalMs?: number;
}

/** Keeps a sample of the counters every `intervalMs` (default 10 s) for the last hour. */
export class GatewayRates {
  private readonly samples: CounterSample[] = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly intervalMs: number;
  private readonly limit: number;

  constructor(private readonly opts: GatewayRatesOptions) {
    this.intervalMs = opts.intervalMs ?? 10_000;
    this.limit = Math.ceil(WRITE_WINDOW_MS / this.intervalMs) + 1;
  }

  /** Takes the first sample and starts the timer (unref'd: it never keeps the process alive). */
  async start(): Promise<void> {
    await this.sample();
    this.timer = setInterval(() => void this.sample().catch(() => undefined), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  async current(): Promise<GatewayRateFigures> {
    return ratesAt(this.samples, await this.opts.read());
  }

  private async sample(): Promise<void> {
    const s = await this.opts.read();
    this.samples.push(s);
    if (this.samples.length > this.limit) this.samples.shift();
  }
}
