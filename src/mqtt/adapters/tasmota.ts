/**
 * Tasmota with its default FullTopic `%prefix%/%topic%/` (Tasmota docs "MQTT"):
 *   tele/<t>/SENSOR   JSON every TelePeriod: `{"Time":..,"AM2301":{"Temperature":21.3,"Humidity":40},"TempUnit":"C"}`
 *   tele/<t>/STATE    JSON: uptime, `POWER`/`POWER<n>`, `Dimmer`, `Wifi` {RSSI, Signal}
 *   tele/<t>/LWT      `Online` / `Offline` (retained; the will)
 *   stat/<t>/RESULT   the answer to a command, e.g. `{"POWER":"ON"}`
 *   stat/<t>/POWER<n> `ON` / `OFF`
 *   cmnd/<t>/<Command> commands (ours; ignored when seen inbound)
 * Nested SENSOR objects become sensor keys joined by `.` (`am2301.temperature`).
 */
import { MalformedPayload, deviceKey, slugify, type AdapterOutcome, type Observation, type SensorInfo, type SensorValue } from './model.js';
import { decodeObject, decodePayload, isObject, toSensorValue } from './payload.js';
import { startsWithLevel } from './topic-filter.js';

const POWER = /^POWER\d*$/;
/** Keys of SENSOR/STATE messages that describe the message, not a measurement. */
const META_KEYS = new Set(['Time', 'TempUnit', 'PressureUnit', 'SpeedUnit', 'Epoch']);

/** Units and device classes of the usual Tasmota readings (Tasmota docs "Supported sensors", "Energy"). */
const KNOWN: Record<string, { unit?: string; deviceClass: string }> = {
  Temperature: { deviceClass: 'temperature' },
  DewPoint: { deviceClass: 'temperature' },
  Humidity: { unit: '%', deviceClass: 'humidity' },
  Pressure: { deviceClass: 'pressure' },
  Illuminance: { unit: 'lx', deviceClass: 'illuminance' },
  CarbonDioxide: { unit: 'ppm', deviceClass: 'carbon_dioxide' },
  Power: { unit: 'W', deviceClass: 'power' },
  ApparentPower: { unit: 'VA', deviceClass: 'apparent_power' },
  ReactivePower: { unit: 'var', deviceClass: 'reactive_power' },
  Voltage: { unit: 'V', deviceClass: 'voltage' },
  Current: { unit: 'A', deviceClass: 'current' },
  Total: { unit: 'kWh', deviceClass: 'energy' },
  Today: { unit: 'kWh', deviceClass: 'energy' },
  Yesterday: { unit: 'kWh', deviceClass: 'energy' },
  Factor: { deviceClass: 'power_factor' },
};

export function parseTasmota(topic: string, payload: Buffer, now: number): AdapterOutcome {
  if (!(startsWithLevel(topic, 'tele') || startsWithLevel(topic, 'stat') || startsWithLevel(topic, 'cmnd'))) return undefined;
  const levels = topic.split('/');
  if (levels.length !== 3) return undefined;
  const [prefix, t, command] = levels as [string, string, string];
  const key = deviceKey('tasmota', t);
  if (prefix === 'cmnd') return [];
  if (prefix === 'tele') {
    if (command === 'LWT') return lwt(key, payload);
    if (command === 'SENSOR') return sensorMessage(key, t, payload, now);
    if (command === 'STATE') return stateMessage(key, t, payload, now);
    return [];
  }
  if (command === 'RESULT') return result(key, payload, now);
  if (POWER.test(command)) {
    const value = toSensorValue(decodePayload(payload, 'text'));
    if (value === undefined) return [];
    return [announce(key, t, [powerSensor(t, command)]), { kind: 'reading', reading: { deviceKey: key, sensor: slugify(command), value, ts: now } }];
  }
  return [];
}

function lwt(key: string, payload: Buffer): Observation[] {
  const s = payload.toString('utf8');
  if (s !== 'Online' && s !== 'Offline') throw new MalformedPayload('LWT is neither Online nor Offline');
  return [{ kind: 'availability', availability: { deviceKey: key, online: s === 'Online' } }];
}

function sensorMessage(key: string, t: string, payload: Buffer, now: number): Observation[] {
  const msg = decodeObject(payload);
  const tempUnit = msg.TempUnit === 'F' ? '°F' : '°C';
  const pressureUnit = typeof msg.PressureUnit === 'string' ? msg.PressureUnit : 'hPa';
  const sensors: SensorInfo[] = [];
  const readings: Observation[] = [];
  for (const { path, value } of leaves(msg)) {
    const leaf = path[path.length - 1]!;
    const sensor: SensorInfo = { key: path.map(slugify).join('.'), name: path.join(' '), kind: kindOf(value), inferred: true };
    const known = KNOWN[leaf];
    if (known) {
      sensor.deviceClass = known.deviceClass;
      const unit = known.deviceClass === 'temperature' ? tempUnit : known.deviceClass === 'pressure' ? pressureUnit : known.unit;
      if (unit) sensor.unit = unit;
    }
    sensors.push(sensor);
    readings.push({ kind: 'reading', reading: { deviceKey: key, sensor: sensor.key, value, ts: now } });
  }
  return [announce(key, t, sensors), ...readings];
}

/** STATE: the relays and dimmer (settable) and the Wi-Fi signal; the rest is housekeeping. */
function stateMessage(key: string, t: string, payload: Buffer, now: number): Observation[] {
  const msg = decodeObject(payload);
  const sensors: SensorInfo[] = [];
  const readings: Observation[] = [];
  const add = (sensor: SensorInfo, value: unknown) => {
    const v = toSensorValue(value);
    if (v === undefined) return;
    sensors.push(sensor);
    readings.push({ kind: 'reading', reading: { deviceKey: key, sensor: sensor.key, value: v, ts: now } });
  };
  for (const [k, v] of Object.entries(msg)) {
    if (POWER.test(k)) add(powerSensor(t, k), v);
    else if (k === 'Dimmer') add({ key: 'dimmer', name: 'Dimmer', kind: 'number', unit: '%', command: { topic: `cmnd/${t}/Dimmer`, encoding: 'plain' } }, v);
    else if (k === 'UptimeSec') add({ key: 'uptime', name: 'Uptime', kind: 'number', unit: 's', deviceClass: 'duration' }, v);
  }
  if (isObject(msg.Wifi)) {
    add({ key: 'wifi.signal', name: 'Wi-Fi signal', kind: 'number', unit: 'dBm', deviceClass: 'signal_strength' }, msg.Wifi.Signal);
    add({ key: 'wifi.rssi', name: 'Wi-Fi quality', kind: 'number', unit: '%' }, msg.Wifi.RSSI);
  }
  return [announce(key, t, sensors), ...readings];
}

/** RESULT answers a command: each scalar field is a command result for the sensor it names. */
function result(key: string, payload: Buffer, now: number): Observation[] {
  const msg = decodeObject(payload);
  const out: Observation[] = [];
  for (const [k, v] of Object.entries(msg)) {
    const value = toSensorValue(v);
    if (value === undefined) continue;
    out.push({ kind: 'command-result', result: { deviceKey: key, sensor: slugify(k), value, ts: now } });
  }
  return out;
}

function powerSensor(t: string, command: string): SensorInfo {
  return {
    key: slugify(command),
    name: command === 'POWER' ? 'Power' : `Power ${command.slice(5)}`,
    kind: 'boolean',
    on: 'ON',
    off: 'OFF',
    deviceClass: 'switch',
    // Never retained: retained POWER commands replay on reconnect ("ghost switching", Tasmota docs).
    command: { topic: `cmnd/${t}/${command}`, encoding: 'plain', on: 'ON', off: 'OFF' },
  };
}

function announce(key: string, t: string, sensors: SensorInfo[]): Observation {
  return { kind: 'announce', device: { key, convention: 'tasmota', name: t, sensors, sourceTopic: `tele/${t}` } };
}

function* leaves(obj: Record<string, unknown>, path: string[] = []): Generator<{ path: string[]; value: SensorValue }> {
  for (const [k, v] of Object.entries(obj)) {
    if (path.length === 0 && META_KEYS.has(k)) continue;
    if (isObject(v)) {
      yield* leaves(v, [...path, k]);
      continue;
    }
    const value = toSensorValue(v);
    if (value !== undefined) yield { path: [...path, k], value };
  }
}

function kindOf(v: SensorValue): SensorInfo['kind'] {
  return typeof v === 'number' ? 'number' : typeof v === 'boolean' ? 'boolean' : 'string';
}
