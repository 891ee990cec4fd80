/**
 * Zigbee2MQTT (Z2M docs "MQTT topics and messages", "Exposes"):
 *   zigbee2mqtt/<friendly_name>                 device state, a JSON object of properties; its
 *                                               `last_seen` (if enabled) dates the readings
 *   zigbee2mqtt/<friendly_name>/availability    `{"state":"online"}` (2.0+) or legacy `online`
 *   zigbee2mqtt/<friendly_name>/set[/<attr>]    commands (ours; ignored when seen inbound)
 *   zigbee2mqtt/bridge/devices                  retained list of devices with their `exposes`
 * Friendly names may contain `/`, so the suffixes are recognised from the end of the topic.
 */
import { MalformedPayload, deviceKey, rememberStrings, slugify, type AdapterOutcome, type DeviceAnnouncement, type Observation, type SensorInfo } from './model.js';
import { decodeObject, decodePayload, isObject, toSensorValue } from './payload.js';
import { startsWithLevel } from './topic-filter.js';

export const Z2M_BASE_TOPIC = 'zigbee2mqtt';

/** Z2M expose access bits: 1 published in state, 2 settable with /set, 4 readable with /get. */
const ACCESS_SET = 2;

export function parseZigbee2Mqtt(topic: string, payload: Buffer, now: number, base = Z2M_BASE_TOPIC): AdapterOutcome {
  if (!startsWithLevel(topic, base)) return undefined;
  const tail = topic.slice(base.length + 1);
  // The common case, a device's state message under a plain name: no split, and the topic itself
  // is the announcement's source.
  if (tail !== 'bridge' && !tail.includes('/')) return deviceState(tail, payload, now, topic);
  const rest = tail.split('/');
  if (rest[0] === 'bridge') {
    return rest.length === 2 && rest[1] === 'devices' ? announceBridgeDevices(payload, base) : [];
  }
  const last = rest[rest.length - 1];
  if (last === 'set' || last === 'get' || rest[rest.length - 2] === 'set' || rest[rest.length - 2] === 'get') return [];
  if (last === 'availability') return availability(rest.slice(0, -1).join('/'), payload);
  return deviceState(tail, payload, now, topic);
}

function availability(name: string, payload: Buffer): Observation[] {
  const decoded = decodePayload(payload);
  const state = isObject(decoded) ? decoded.state : decoded;
  if (state !== 'online' && state !== 'offline') throw new MalformedPayload('availability is neither online nor offline');
  return [{ kind: 'availability', availability: { deviceKey: deviceKey('zigbee2mqtt', name), online: state === 'online' } }];
}

/**
 * A state message: every scalar property is a reading; the device is announced with inferred sensors.
 * `last_seen` (Z2M `advanced.last_seen`: when Z2M last heard from the device, as ISO 8601 or epoch ms)
 * is not a sensor but the time of the readings beside it: it dates readings that a device agent
 * replays after an outage correctly, and a value that changes with every message would otherwise
 * cost a telemetry stream and a room state event per device per throttle interval.
 */
function deviceState(name: string, payload: Buffer, now: number, sourceTopic: string): Observation[] {
  if (payload.length === 0) return [];
  const state = decodeObject(payload);
  const key = z2mDeviceKey(name);
  const ts = readingTime(state.last_seen, now);
  const sensors: SensorInfo[] = [];
  const out: Observation[] = [{ kind: 'announce', device: { key, convention: 'zigbee2mqtt', name, sensors, sourceTopic } }];
  for (const property in state) {
    if (property === LAST_SEEN) continue;
    const value = toSensorValue(state[property]);
    if (value === undefined) continue;
    const sensor = slugify(property);
    sensors.push({ key: sensor, name: property, kind: typeof value === 'number' ? 'number' : typeof value === 'boolean' ? 'boolean' : 'string', inferred: true });
    out.push({ kind: 'reading', reading: { deviceKey: key, sensor, value, ts } });
  }
  return out;
}

/** Device keys by friendly name: every state message needs its device's key (rememberStrings). */
const z2mDeviceKey = rememberStrings((name) => deviceKey('zigbee2mqtt', name));

const LAST_SEEN = 'last_seen';
/** How far a device's `last_seen` may lie ahead of our clock (clock skew) and still date readings. */
const MAX_FUTURE_SKEW_MS = 5 * 60_000;

function readingTime(lastSeen: unknown, now: number): number {
  const ms = typeof lastSeen === 'number' ? lastSeen : typeof lastSeen === 'string' ? Date.parse(lastSeen) : NaN;
  return Number.isFinite(ms) && ms > 0 && ms <= now + MAX_FUTURE_SKEW_MS ? ms : now;
}

function announceBridgeDevices(payload: Buffer, base: string): Observation[] {
  const devices = decodePayload(payload);
  if (!Array.isArray(devices)) throw new MalformedPayload('bridge/devices is not a list');
  const out: Observation[] = [];
  for (const d of devices) {
    if (!isObject(d) || d.type === 'Coordinator' || typeof d.friendly_name !== 'string') continue;
    const name = d.friendly_name;
    const definition = isObject(d.definition) ? d.definition : {};
    const sensors = Array.isArray(definition.exposes) ? definition.exposes.flatMap((e) => sensorsFromExpose(e, name, base)) : [];
    const device: DeviceAnnouncement = { key: deviceKey('zigbee2mqtt', name), convention: 'zigbee2mqtt', name, sensors, sourceTopic: `${base}/bridge/devices` };
    if (typeof definition.model === 'string') device.model = definition.model;
    if (typeof definition.vendor === 'string') device.manufacturer = definition.vendor;
    if (typeof d.software_build_id === 'string') device.swVersion = d.software_build_id;
    out.push({ kind: 'announce', device });
  }
  return out;
}

/**
 * One expose -> sensors (Z2M docs "Exposes"): generic types `numeric`, `binary`, `enum`, `text`
 * carry a `property`; specific types (`light`, `switch`, `lock`, `climate`, `fan`, `cover`) group
 * generic ones under `features`. `composite` values are objects and not scalar sensors.
 */
function sensorsFromExpose(e: unknown, name: string, base: string): SensorInfo[] {
  if (!isObject(e)) return [];
  if (Array.isArray(e.features) && e.type !== 'composite') return e.features.flatMap((f) => sensorsFromExpose(f, name, base));
  const property = typeof e.property === 'string' ? e.property : undefined;
  if (!property || e.type === 'composite' || e.type === 'list') return [];
  const sensor: SensorInfo = {
    key: slugify(property),
    name: typeof e.label === 'string' ? e.label : typeof e.name === 'string' ? e.name : property,
    kind: e.type === 'numeric' ? 'number' : e.type === 'binary' ? 'boolean' : 'string',
  };
  if (typeof e.unit === 'string') sensor.unit = e.unit;
  if (typeof e.name === 'string' && e.type === 'numeric') sensor.deviceClass = e.name;
  if (e.type === 'binary') {
    sensor.on = String(e.value_on ?? 'ON');
    sensor.off = String(e.value_off ?? 'OFF');
  }
  const access = typeof e.access === 'number' ? e.access : 1;
  if (access & ACCESS_SET) {
    sensor.command = { topic: `${base}/${name}/set`, encoding: 'json-property', property };
    if (e.type === 'binary') {
      sensor.command.on = sensor.on!;
      sensor.command.off = sensor.off!;
    }
  }
  return [sensor];
}
