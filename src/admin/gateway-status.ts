/**
 * The running gateway's one-screen summary, `gateway.status` on the admin socket (`hearth status`,
 * `hearth doctor`): a view of the gateway's figures (status/gateway-figures.ts, the snapshot the
 * status page's panel shows too) with the ports it listens on, in the CLI's camelCase.
 */
import type { ClockStatus } from '../federation/clock/clock-guard.js';
import type { GatewaySnapshot } from '../status/gateway-figures.js';

export interface GatewayStatus {
  version: string;
  serverName: string;
  pid: number;
  /** When the gateway started (ms since the epoch) and for how long it has run. */
  startedAtMs: number;
  uptimeSeconds: number;
  rssBytes: number;
  ports: GatewayPorts;
  disk: {
    dataDir: string;
    /** Bytes of files under the data directory (database, media, journal, keys). */
    usedBytes: number;
    /** Of the file system holding it; null when it cannot be asked. */
    freeBytes: number | null;
    totalBytes: number | null;
    /** Bytes the gateway wrote to storage (/proc/self/io), per hour over the last hour and per day over the last week; null where the kernel does not count. */
    writtenPerHour: number | null;
    writtenPerDay: number | null;
    /** Seconds of samples the daily figure rests on. */
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

export interface GatewayPorts {
  client: number;
  federation: number;
  mqtt: number | null;
}

export function gatewayStatus(s: GatewaySnapshot, ports: GatewayPorts): GatewayStatus {
  return {
    version: s.version,
    serverName: s.serverName,
    pid: s.pid,
    startedAtMs: s.startedAtMs,
    uptimeSeconds: s.uptimeSeconds,
    rssBytes: s.rssBytes,
    ports,
    disk: {
      dataDir: s.disk.dataDir,
      usedBytes: s.disk.usedBytes,
      freeBytes: s.disk.freeBytes ?? null,
      totalBytes: s.disk.totalBytes ?? null,
      writtenPerHour: s.writes.bytesPerHour,
      writtenPerDay: s.writes.bytesPerDay,
      writeHistorySeconds: s.writes.historySeconds,
    },
    mqttClients: s.mqttClients,
    eventsPerSecond: s.eventsPerSecond,
    readingsPerSecond: s.readingsPerSecond,
    clock: s.clock,
    peers: s.peers.map((p) => ({
      server: p.server,
      reachable: p.reachable,
      failures: p.failures,
      retryPending: p.backingOff,
      queueDepth: p.queueDepth,
      streamLag: p.streamLag,
    })),
  };
}
