/**
 * What the status page shows (docs/status-page.md), read from the running services: the gateway
 * panel (a view of the gateway's figures, gateway-figures.ts: uptime, version, memory, disk and
 * SD-card writes, MQTT, rates, federation peers), the devices with their live values, and a
 * sensor's history. The HTTP routes (api/client/status.ts) authenticate and validate; this module
 * only reads. The views here are the data API's shapes, which the page (page/api.ts) imports.
 */
import type { SensorInfo, SensorValue } from '../mqtt/adapters/model.js';
import type { BridgedDevice } from '../mqtt/bridge/registry.js';
import type { QueryResult, Resolution } from '../telemetry/model.js';
import type { GatewayFigures, GatewaySnapshot } from './gateway-figures.js';
import type { LiveDevices, LivePosition } from './live-devices.js';

/** Points a raw history answer holds at most (the telemetry store's own cap). */
export const RAW_HISTORY_LIMIT = 10_000;

export interface StatusSources {
  /** The gateway panel's figures. */
  figures: Pick<GatewayFigures, 'snapshot'>;
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

/** `GET /_hearth/status/v1/gateway`. */
export interface GatewayView {
  server_name: string;
  version: string;
  /** ms since the epoch. */
  started_at: number;
  uptime_seconds: number;
  rss_bytes: number;
  heap_used_bytes: number;
  disk: { used_bytes: number; free_bytes?: number; total_bytes?: number };
  writes: { bytes_per_hour: number | null; telemetry_journal_bytes_per_hour: number; window_seconds: number };
  mqtt: { clients: number | null; messages_per_second: number };
  events_per_second: number;
  readings_per_second: number;
  rate_window_seconds: number;
  federation: { clock_ok: boolean; peers: PeerView[] };
}

export function gatewayView(s: GatewaySnapshot): GatewayView {
  return {
    server_name: s.serverName,
    version: s.version,
    started_at: s.startedAtMs,
    uptime_seconds: s.uptimeSeconds,
    rss_bytes: s.rssBytes,
    heap_used_bytes: s.heapUsedBytes,
    disk: {
      used_bytes: s.disk.usedBytes,
      ...(s.disk.freeBytes !== undefined && s.disk.totalBytes !== undefined ? { free_bytes: s.disk.freeBytes, total_bytes: s.disk.totalBytes } : {}),
    },
    writes: { bytes_per_hour: s.writes.bytesPerHour, telemetry_journal_bytes_per_hour: s.writes.journalBytesPerHour, window_seconds: s.writes.windowSeconds },
    mqtt: { clients: s.mqttClients, messages_per_second: s.mqttMessagesPerSecond },
    events_per_second: s.eventsPerSecond,
    readings_per_second: s.readingsPerSecond,
    rate_window_seconds: s.rateWindowSeconds,
    federation: {
      clock_ok: s.clock.sane,
      peers: s.peers.map((p) => ({
        server: p.server,
        reachable: p.reachable,
        failures: p.failures,
        backing_off: p.backingOff,
        queue_depth: p.queueDepth,
        stream_lag: p.streamLag,
        transactions: p.transactions,
        send_failures: p.sendFailures,
      })),
    },
  };
}

export class StatusService {
  constructor(private readonly src: StatusSources) {}

  get position(): LivePosition {
    return this.src.live.position;
  }

  waitForDevices(serial: number, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    return this.src.live.waitForChange(serial, timeoutMs, signal);
  }

  /** The gateway panel. */
  async gateway(): Promise<GatewayView> {
    return gatewayView(await this.src.figures.snapshot());
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

/** Means to 3 decimals: the page charts them, nobody needs float noise on the wire. */
function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}
