/**
 * The running gateway's figures, read in one place: uptime, version, memory, the data directory's
 * size and its file system's free space, bytes written per hour (and per day over the kept week),
 * MQTT clients and messages, events and readings per second, the clock's judgement, and each
 * federation peer with its reachability and queues. One snapshot, two views of it: the status
 * page's panel (`/_hearth/status/v1/gateway`, status-service.ts) and `gateway.status` on the admin
 * socket (`hearth status`, `hearth doctor`; admin/gateway-status.ts).
 *
 * The counters (events persisted, readings, MQTT messages, the telemetry journal's bytes and the
 * kernel's count of bytes written) are read once per ask, when asked: the rates come from the kept
 * samples (gateway-rates.ts), the write history of the last week from the same reading
 * (metrics/disk-writes.ts, persisted for restarts and for `hearth doctor` on a stopped gateway).
 * One timer only, hourly: a sample into the write history, so that a crash of a gateway nobody
 * watches loses at most the last hour or two of it, not the whole run (the history file is written
 * once an hour at most either way).
 */
import { statfs } from 'node:fs/promises';
import type { ClockStatus } from '../federation/clock/clock-guard.js';
import type { DestinationStatus } from '../federation/send/sender.js';
import { DirectorySize } from '../metrics/directory-size.js';
import { DiskWriteHistory, processWriteBytes, writeRate } from '../metrics/disk-writes.js';
import { GatewayRates, type CounterSample } from './gateway-rates.js';

/** The data directory's size is measured at most this often (a walk of LevelDB's and media's files). */
const DISK_SIZE_MAX_AGE_MS = 60_000;
const HOUR_MS = 3600_000;
const WEEK_MS = 7 * 24 * HOUR_MS;

export interface GatewaySnapshot {
  serverName: string;
  version: string;
  pid: number;
  /** ms since the epoch at the gateway's start, and the whole seconds since. */
  startedAtMs: number;
  uptimeSeconds: number;
  rssBytes: number;
  heapUsedBytes: number;
  disk: {
    dataDir: string;
    /** Bytes of the files under the data directory (database, media, journal, keys). */
    usedBytes: number;
    /** Of the file system holding it; undefined when it cannot be asked. */
    freeBytes?: number;
    totalBytes?: number;
  };
  writes: {
    /** Bytes written to storage (/proc/self/io) per hour over `windowSeconds`; null where the kernel does not count. */
    bytesPerHour: number | null;
    /** The telemetry journal's share of it. */
    journalBytesPerHour: number;
    /** Up to an hour; over the time since the last sample after a quiet spell. */
    windowSeconds: number;
    /** Per day over the kept week (across restarts); null where the kernel does not count or before any history. */
    bytesPerDay: number | null;
    /** Seconds of samples the daily figure rests on. */
    historySeconds: number;
  };
  /** Clients of the embedded broker; null with an external broker (it knows its clients, not us). */
  mqttClients: number | null;
  /** Per second over `rateWindowSeconds` (the last minute; shorter just after the start). */
  mqttMessagesPerSecond: number;
  eventsPerSecond: number;
  readingsPerSecond: number;
  rateWindowSeconds: number;
  clock: ClockStatus;
  peers: PeerFigures[];
}

export interface PeerFigures {
  server: string;
  /** The last send reached it (no consecutive failures). */
  reachable: boolean;
  failures: number;
  backingOff: boolean;
  /** Waiting outside the event stream: the durable outbox and the EDUs in memory. */
  queueDepth: number;
  /** Stream positions its queue has not walked yet (0: caught up). */
  streamLag: number;
  transactions: number;
  sendFailures: number;
}

export interface GatewayFigureSources {
  serverName: string;
  version: string;
  /** ms since the epoch at the gateway's start. */
  startedAt: number;
  dataDir: string;
  /** Counters since the start. */
  counters(): { events: number; readings: number; mqttMessages: number; journalBytes: number };
  /** Connected MQTT clients; absent in external-broker mode. */
  mqttClients?: () => number;
  clock(): ClockStatus;
  destinations(): DestinationStatus[];
  streamHead(): number;
  /** Injected by tests; the process's own otherwise. */
  writeBytes?: () => number | undefined;
  memory?: () => { rss: number; heapUsed: number };
  now?: () => number;
  monotonic?: () => number;
}

export class GatewayFigures {
  private readonly rates = new GatewayRates();
  private readonly history: DiskWriteHistory;
  private readonly size: DirectorySize;
  private readonly writeBytes: () => number | undefined;
  private readonly now: () => number;
  private readonly monotonic: () => number;
  private historyTimer: NodeJS.Timeout | undefined;

  constructor(private readonly src: GatewayFigureSources) {
    this.now = src.now ?? Date.now;
    this.monotonic = src.monotonic ?? (() => performance.now());
    this.writeBytes = src.writeBytes ?? (() => processWriteBytes());
    this.history = new DiskWriteHistory({ dataDir: src.dataDir, now: this.now });
    this.size = new DirectorySize(src.dataDir, DISK_SIZE_MAX_AGE_MS);
  }

  /** Loads the write history a previous run left and takes the first sample (the counters at the start). */
  async start(): Promise<void> {
    await this.history.load();
    this.rates.at(this.sample());
    this.historyTimer = setInterval(() => this.sample(), HOUR_MS).unref();
  }

  /** A last sample into the write history, which is written to its file. */
  stop(): void {
    clearInterval(this.historyTimer);
    this.sample();
    this.history.stop();
  }

  async snapshot(): Promise<GatewaySnapshot> {
    const { src } = this;
    const sample = this.sample();
    const rates = this.rates.at(sample);
    const [usedBytes, fs] = await Promise.all([this.size.current(), statfs(src.dataDir).catch(() => undefined)]);
    const nowMs = this.now();
    const daily = sample.writeBytes === undefined ? undefined : writeRate(this.history.history(), nowMs - WEEK_MS);
    const memory = src.memory?.() ?? process.memoryUsage();
    const head = src.streamHead();
    return {
      serverName: src.serverName,
      version: src.version,
      pid: process.pid,
      startedAtMs: src.startedAt,
      uptimeSeconds: Math.max(0, Math.floor((nowMs - src.startedAt) / 1000)),
      rssBytes: memory.rss,
      heapUsedBytes: memory.heapUsed,
      disk: { dataDir: src.dataDir, usedBytes, ...(fs ? { freeBytes: fs.bavail * fs.bsize, totalBytes: fs.blocks * fs.bsize } : {}) },
      writes: {
        bytesPerHour: rates.bytesWrittenPerHour ?? null,
        journalBytesPerHour: rates.journalBytesPerHour,
        windowSeconds: rates.writeWindowSeconds,
        bytesPerDay: daily ? Math.round(daily.bytesPerSecond * 86_400) : null,
        historySeconds: daily ? Math.round(daily.seconds) : 0,
      },
      mqttClients: src.mqttClients?.() ?? null,
      mqttMessagesPerSecond: round(rates.mqttMessagesPerSecond),
      eventsPerSecond: round(rates.eventsPerSecond),
      readingsPerSecond: round(rates.readingsPerSecond),
      rateWindowSeconds: rates.rateWindowSeconds,
      clock: src.clock(),
      peers: src.destinations().map((d) => ({
        server: d.destination,
        reachable: d.failures === 0,
        failures: d.failures,
        backingOff: d.backingOff,
        queueDepth: d.outbox + d.ephemeral,
        streamLag: Math.max(0, head - d.position),
        transactions: d.transactions,
        sendFailures: d.sendFailures,
      })),
    };
  }

  /** The counters now; the bytes written go to the write history as they are read. */
  private sample(): CounterSample {
    const t = this.monotonic();
    const writeBytes = this.writeBytes();
    if (writeBytes !== undefined) this.history.record(writeBytes, t);
    return { t, ...this.src.counters(), ...(writeBytes !== undefined ? { writeBytes } : {}) };
  }
}

/** Rates to 3 decimals: shown to people, nobody needs float noise on the wire. */
function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}
