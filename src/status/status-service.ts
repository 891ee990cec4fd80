/**
 * What the status page shows (docs/status-page.md), read from the running services: the gateway
 * panel (uptime, version, memory, disk and SD-card writes, MQTT, rates, federation peers), the
 * devices with their live values, and a sensor's history. The HTTP routes
 * (api/client/status.ts) authenticate and validate; this module only reads.
 *
 * Sources are those of /metrics (src/metrics/gateway-metrics.ts) and `hearth federation status`:
 * the bridge's and broker's counters, the telemetry journal, LevelDB's size on disk
 * (`DirectorySize`), and the federation sender's per-destination status.
 */
import { statfs } from 'node:fs/promises';
import type { SensorInfo, SensorValue } from '../mqtt/adapters/model.js';
import type { BridgedDevice } from '../mqtt/bridge/registry.js';
import type { DestinationStatus } from '../federation/send/sender.js';
import type { QueryResult, Resolution } from '../telemetry/model.js';
import { DirectorySize } from '../metrics/directory-size.js';
import type { GatewayRates } from './gateway-rates.js';
import type { LiveDevices, LivePosition } from './live-devices.js';

/** The data directory's size is measured at most this often (a walk of LevelDB's and media's files). */
const DISK_SIZE_MAX_AGE_MS = 60_000;
/** Points a raw history answer holds at most (the telemetry store's own cap). */
export const RAW_HISTORY_LIMIT = 10_000;

export interface StatusSources {
  serverName: string;
  version: string;
  /** ms since the epoch at the gateway's start. */
  startedAt: number;
  dataDir: string;
  live: LiveDevices;
  bridge: {
    devices(): BridgedDevice[];
    device(key: string): BridgedDevice | undefined;
    sensorStateKey(d: BridgedDevice, sensor: string): string;
  };
  /** Content of a room's current state event (the throttled latest value, before any live reading). */
  stateContent(roomId: string, type: string, stateKey: string): Promise<Record<string, unknown> | undefined>;
  isJoined(userId: string, roomId: string): Promise<boolean>;
  telemetry: { query(stream: string, from: number, to: number, resolution: Resolution | 'auto', limit?: number): Promise<QueryResult> };
  rates: Pick<GatewayRates, 'current'>;
  /** Connected MQTT clients; absent in external-broker mode (that broker knows them). */
  mqttClients?: () => number;
  federation: {
    destinations(): DestinationStatus[];
    streamHead(): number;
    /** Whether the clock is judged right (a wrong one pauses federation). */
    clockSane(): boolean;
  };
  memory?: () => { rss: number; heapUsed: number };
  now?: () => number;
}

export interface SensorView {
  key: string;
  name: string;
  kind: SensorInfo['kind'];
  unit?: string;
  device_class?: string;
  settable: boolean;
  /** What an `org.hearth.command` names this sensor by in the device's room. */
  command_target: string;
  value: SensorValue | null;
  ts: number | null;
}

export interface DeviceView {
  key: string;
  name: string;
  convention: string;
  model?: string;
  manufacturer?: string;
  area?: string;
  room_id: string | null;
  /** Whether the asking admin is joined to the device's room (commands are sent there). */
  joined: boolean;
  online: boolean | null;
  /** ms since the epoch: the gateway's clock when the device last said anything since the start. */
  last_seen: number | null;
  sensors: SensorView[];
}

export interface PeerView {
  server: string;
  /** The last send succeeded (no consecutive failures). */
  reachable: boolean;
  failures: number;
  backing_off: boolean;
  /** Items waiting outside the event stream: the durable outbox and ephemeral EDUs. */
  queue_depth: number;
  /** Stream positions not walked yet (0: caught up). */
  stream_lag: number;
  transactions: number;
  send_failures: number;
}

export class StatusService {
  private readonly disk: DirectorySize;
  private readonly now: () => number;

  constructor(private readonly src: StatusSources) {
    this.disk = new DirectorySize(src.dataDir, DISK_SIZE_MAX_AGE_MS);
    this.now = src.now ?? Date.now;
  }

  get position(): LivePosition {
    return this.src.live.position;
  }

  waitForDevices(serial: number, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    return this.src.live.waitForChange(serial, timeoutMs, signal);
  }

  /** The gateway panel. */
  async gateway(): Promise<Record<string, unknown>> {
    const { src } = this;
    const memory = src.memory?.() ?? process.memoryUsage();
    const rates = await src.rates.current();
    const [used, fs] = await Promise.all([this.disk.current(), statfs(src.dataDir).catch(() => undefined)]);
    const head = src.federation.streamHead();
    const peers: PeerView[] = src.federation.destinations().map((d) => ({
      server: d.destination,
      reachable: d.failures === 0,
      failures: d.failures,
      backing_off: d.backingOff,
      queue_depth: d.outbox + d.ephemeral,
      stream_lag: Math.max(0, head - d.position),
      transactions: d.transactions,
      send_failures: d.sendFailures,
    }));
    return {
      server_name: src.serverName,
      version: src.version,
      started_at: src.startedAt,
      uptime_seconds: Math.max(0, Math.floor((this.now() - src.startedAt) / 1000)),
      rss_bytes: memory.rss,
      heap_used_bytes: memory.heapUsed,
      disk: {
        used_bytes: used,
        ...(fs ? { free_bytes: fs.bavail * fs.bsize, total_bytes: fs.blocks * fs.bsize } : {}),
      },
      writes: {
        bytes_per_hour: rates.bytesWrittenPerHour ?? null,
        telemetry_journal_bytes_per_hour: rates.journalBytesPerHour,
        window_seconds: rates.writeWindowSeconds,
      },
      mqtt: { clients: src.mqttClients?.() ?? null, messages_per_second: round(rates.mqttMessagesPerSecond) },
      events_per_second: round(rates.eventsPerSecond),
      readings_per_second: round(rates.readingsPerSecond),
      rate_window_seconds: rates.rateWindowSeconds,
      federation: { clock_ok: src.federation.clockSane(), peers },
    };
  }

  /** Devices changed after `serial` (all when `serial` is undefined), as `userId` sees them. */
  async devices(userId: string, serial: number | undefined): Promise<DeviceView[]> {
    const changed = serial === undefined ? undefined : new Set(this.src.live.changedSince(serial));
    const devices = this.src.bridge.devices().filter((d) => !changed || changed.has(d.key));
    devices.sort((a, b) => a.name.localeCompare(b.name) || a.key.localeCompare(b.key));
    return Promise.all(devices.map((d) => this.deviceView(d, userId)));
  }

  /** A sensor's history as columns (what the chart draws), or undefined when there is no such sensor. */
  async history(deviceKey: string, sensor: string, from: number, to: number, resolution: Resolution | 'auto'): Promise<Record<string, unknown> | undefined> {
    const d = this.src.bridge.device(deviceKey);
    if (!d?.sensors[sensor]) return undefined;
    const result = await this.src.telemetry.query(`${d.key}/${sensor}`, from, to, resolution, RAW_HISTORY_LIMIT);
    const base = { device: d.key, sensor, from, to, resolution: result.resolution };
    if (result.resolution === 'raw') {
      return {
        ...base,
        truncated: result.points.length >= RAW_HISTORY_LIMIT,
        ts: result.points.map((p) => p.ts),
        // Booleans chart as 0/1, as the rollups count them; text has no place on a chart.
        value: result.points.map((p) => (typeof p.value === 'number' ? p.value : typeof p.value === 'boolean' ? Number(p.value) : null)),
      };
    }
    return {
      ...base,
      truncated: false,
      ts: result.points.map((p) => p.ts),
      min: result.points.map((p) => p.min),
      mean: result.points.map((p) => round(p.mean)),
      max: result.points.map((p) => p.max),
      count: result.points.map((p) => p.count),
    };
  }

  private async deviceView(d: BridgedDevice, userId: string): Promise<DeviceView> {
    const { live } = this.src;
    const sensors = await Promise.all(Object.values(d.sensors).map((s) => this.sensorView(d, s)));
    return {
      key: d.key,
      name: d.name,
      convention: d.convention,
      ...(d.model ? { model: d.model } : {}),
      ...(d.manufacturer ? { manufacturer: d.manufacturer } : {}),
      ...(d.area ? { area: d.area } : {}),
      room_id: d.roomId ?? null,
      joined: d.roomId ? await this.src.isJoined(userId, d.roomId) : false,
      online: d.online ?? null,
      last_seen: live.lastSeen(d.key) ?? null,
      sensors,
    };
  }

  private async sensorView(d: BridgedDevice, s: SensorInfo): Promise<SensorView> {
    const target = this.src.bridge.sensorStateKey(d, s.key);
    let latest: { value: SensorValue; ts: number } | undefined = this.src.live.latest(d.key, s.key);
    // Nothing read since the start: the room's last (throttled) value.
    if (!latest && d.roomId) latest = fromSensorEvent(s, await this.src.stateContent(d.roomId, 'org.hearth.sensor', target));
    return {
      key: s.key,
      name: s.name,
      kind: s.kind,
      ...(s.unit ? { unit: s.unit } : {}),
      ...(s.deviceClass ? { device_class: s.deviceClass } : {}),
      settable: s.command !== undefined,
      command_target: target,
      value: latest?.value ?? null,
      ts: latest?.ts ?? null,
    };
  }
}

/** A sensor event's value: numbers that are not integers travel as text in events (docs/events.md). */
function fromSensorEvent(s: SensorInfo, content: Record<string, unknown> | undefined): { value: SensorValue; ts: number } | undefined {
  if (!content) return undefined;
  const { value, ts } = content;
  if (typeof ts !== 'number') return undefined;
  if (s.kind === 'number' && typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value))) return { value: Number(value), ts };
  if (typeof value === 'number' || typeof value === 'string' || typeof value === 'boolean') return { value, ts };
  return undefined;
}

/** Rates to 3 decimals: the page shows them, nobody needs float noise on the wire. */
function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}
