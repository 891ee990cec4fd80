/**
 * The running gateway's one-screen summary, `gateway.status` on the admin socket (`hearth status`,
 * `hearth doctor`): uptime, version, RSS, the data directory's size and free space, bytes written
 * per hour and per day (metrics/disk-writes.ts), MQTT clients, events and readings per second
 * (metrics/counter-rate.ts), the ports it listens on, and each federation peer with its
 * reachability and queue depth. Read from the services when asked; the rates and the write history
 * are sampled on one timer.
 */
import { statfs } from 'node:fs/promises';
import { CounterRate } from '../metrics/counter-rate.js';
import { DirectorySize } from '../metrics/directory-size.js';
import { DiskWriteHistory, writeRate } from '../metrics/disk-writes.js';
import type { DestinationStatus } from '../federation/send/sender.js';
import type { ClockStatus } from '../federation/clock/clock-guard.js';

export interface GatewayStatus {
  version: string;
  serverName: string;
  pid: number;
  /** When the process started (ms since the epoch) and for how long it has run. */
  startedAtMs: number;
  uptimeSeconds: number;
  rssBytes: number;
  ports: { client: number; federation: number; mqtt: number | null };
  disk: {
    dataDir: string;
    /** Bytes of files under the data directory (database, media, journal, keys). */
    usedBytes: number;
    /** Of the file system holding it. */
    freeBytes: number;
    totalBytes: number;
    /** Bytes the gateway wrote to storage (/proc/self/io), per hour over the last one to two clock hours and per day over the last week; null where the kernel does not count. */
    writtenPerHour: number | null;
    writtenPerDay: number | null;
    /** Seconds of samples the daily figure rests on (the hourly one: the last one to two hours of them). */
    writeHistorySeconds: number;
  };
  /** Clients of the embedded broker; null with an external broker (it knows its clients, not us). */
  mqttClients: number | null;
  /** Per second over the last minute. */
  eventsPerSecond: number;
  readingsPerSecond: number;
  clock: ClockStatus;
  peers: {
    server: string;
    /** The last send reached it (no failure since). */
    reachable: boolean;
    failures: number;
    retryPending: boolean;
    /** Waiting for it: outbox (to-device, device lists, relayed events) and EDUs in memory. */
    queueDepth: number;
    /** Stream positions its queue has not walked yet (0: caught up). */
    streamLag: number;
  }[];
}

export interface GatewayStatusSources {
  version: string;
  serverName: string;
  dataDir: string;
  ports: GatewayStatus['ports'];
  mqttClients?: () => number;
  /** Counters since start. */
  eventsPersisted: () => number;
  readings: () => number;
  clock: () => ClockStatus;
  destinations: () => DestinationStatus[];
  streamHead: () => number;
}

/** How often the rates and the write history are sampled. */
const SAMPLE_MS = 10_000;
/** The data directory's size is walked at most this often. */
const SIZE_MAX_AGE_MS = 60_000;
const HOUR_MS = 3600_000;
const DAY_MS = 24 * HOUR_MS;

export class GatewayStatusSource {
  private readonly events: CounterRate;
  private readonly readings: CounterRate;
  private readonly writes: DiskWriteHistory;
  private readonly size: DirectorySize;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly sources: GatewayStatusSources) {
    this.events = new CounterRate(sources.eventsPersisted);
    this.readings = new CounterRate(sources.readings);
    this.writes = new DiskWriteHistory({ dataDir: sources.dataDir });
    this.size = new DirectorySize(sources.dataDir, SIZE_MAX_AGE_MS);
  }

  async start(): Promise<void> {
    // The write history every minute, the rates every SAMPLE_MS.
    await this.writes.start(60_000);
    this.timer = setInterval(() => {
      this.events.sample();
      this.readings.sample();
    }, SAMPLE_MS).unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.writes.stop();
  }

  async status(): Promise<GatewayStatus> {
    const s = this.sources;
    const nowMs = Date.now();
    const fs = await statfs(s.dataDir);
    this.writes.sample();
    const history = this.writes.history();
    const hourly = this.writes.available ? writeRate(history, nowMs - HOUR_MS) : undefined;
    const daily = this.writes.available ? writeRate(history, nowMs - 7 * DAY_MS) : undefined;
    const head = s.streamHead();
    return {
      version: s.version,
      serverName: s.serverName,
      pid: process.pid,
      startedAtMs: Math.round(performance.timeOrigin),
      uptimeSeconds: Math.round(process.uptime()),
      rssBytes: process.memoryUsage.rss(),
      ports: s.ports,
      disk: {
        dataDir: s.dataDir,
        usedBytes: await this.size.current(),
        freeBytes: fs.bavail * fs.bsize,
        totalBytes: fs.blocks * fs.bsize,
        writtenPerHour: hourly ? Math.round(hourly.bytesPerSecond * 3600) : null,
        writtenPerDay: daily ? Math.round(daily.bytesPerSecond * 86_400) : null,
        writeHistorySeconds: daily ? Math.round(daily.seconds) : 0,
      },
      mqttClients: s.mqttClients ? s.mqttClients() : null,
      eventsPerSecond: round(this.events.perSecond()),
      readingsPerSecond: round(this.readings.perSecond()),
      clock: s.clock(),
      peers: s.destinations().map((d) => ({
        server: d.destination,
        reachable: d.failures === 0,
        failures: d.failures,
        retryPending: d.backingOff,
        queueDepth: d.outbox + d.ephemeral,
        streamLag: Math.max(0, head - d.position),
      })),
    };
  }
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}
