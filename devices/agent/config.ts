/**
 * The agent's configuration file (`devices/agent.example.yaml` documents every field). Checked in
 * full at start-up with errors that name the field and what it got, as the gateway's hearth.yaml
 * is: a typo must stop the agent with a clear message, never leave a sensor silently unread.
 * Relative paths are relative to the file's directory, so a config and its credentials can move
 * together.
 */
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import YAML from 'yaml';
import { CONVENTIONS, type ConventionName } from './conventions/index.js';
import { assertMqttSafeId, type SensorSpec } from './device.js';

interface SensorCommon {
  /** The value's key in readings, unique within the device. */
  key: string;
  unit?: string;
  deviceClass?: string;
}

export type SensorConfig = SensorCommon &
  (
    | { driver: 'thermal_zone'; intervalMs: number; root?: string; zone?: string }
    | { driver: 'ds18b20'; intervalMs: number; root?: string; device?: string }
    | { driver: 'command'; intervalMs: number; command: string[]; timeoutMs: number; pattern?: string; shell: boolean }
    | { driver: 'stdin' }
  );

export type DriverName = SensorConfig['driver'];

export interface AgentConfig {
  broker: string;
  username?: string;
  password?: string;
  device: { id: string; name: string; model: string; manufacturer: string };
  convention: ConventionName;
  queueDir: string;
  maxQueued: number;
  /** Sign every message (docs/mqtt.md "Signed readings"); the key lives in `keyFile`. */
  signing: boolean;
  keyFile: string;
  sensors: SensorConfig[];
}

const DRIVERS: readonly DriverName[] = ['thermal_zone', 'ds18b20', 'command', 'stdin'];
const DEFAULT_INTERVAL_SECONDS = 60;
const DEFAULT_COMMAND_TIMEOUT_SECONDS = 10;

export function loadAgentConfig(path: string): AgentConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(`cannot read the agent config ${path}: ${(err as Error).message}`);
  }
  try {
    return parseAgentConfig(text, dirname(resolve(path)));
  } catch (err) {
    throw new Error(`${path}: ${(err as Error).message}`);
  }
}

/** Parses and checks a config; `baseDir` resolves relative paths. */
export function parseAgentConfig(text: string, baseDir: string): AgentConfig {
  const doc: unknown = YAML.parse(text);
  const top = map(doc, 'the config');
  onlyKeys(top, 'the config', ['broker', 'username', 'password', 'credentials_file', 'device', 'convention', 'queue_dir', 'max_queued', 'signing', 'key_file', 'sensors']);

  const broker = optionalString(top, 'broker', 'broker') ?? 'mqtt://127.0.0.1:1883';
  if (!/^mqtts?:\/\/[^/\s]+\/?$/.test(broker)) throw new Error(`broker must be mqtt://host:port or mqtts://host:port, got ${JSON.stringify(broker)}`);

  const credentials = credentialsOf(top, baseDir);

  const deviceMap = map(top.device, 'device');
  onlyKeys(deviceMap, 'device', ['id', 'name', 'model', 'manufacturer']);
  const id = requiredString(deviceMap, 'id', 'device.id');
  assertMqttSafeId(id);
  const device = {
    id,
    name: optionalString(deviceMap, 'name', 'device.name') ?? id,
    model: optionalString(deviceMap, 'model', 'device.model') ?? 'Hearth device agent',
    manufacturer: optionalString(deviceMap, 'manufacturer', 'device.manufacturer') ?? 'Hearth',
  };

  const convention = optionalString(top, 'convention', 'convention') ?? 'homeassistant';
  if (!(convention in CONVENTIONS)) throw new Error(`convention must be one of ${Object.keys(CONVENTIONS).join(', ')}, got ${JSON.stringify(convention)}`);

  const queueDir = resolve(baseDir, optionalString(top, 'queue_dir', 'queue_dir') ?? `agent-queue-${id}`);
  const maxQueued = top.max_queued ?? 50_000;
  if (!Number.isInteger(maxQueued) || (maxQueued as number) < 1) throw new Error(`max_queued must be a whole number >= 1, got ${JSON.stringify(maxQueued)}`);

  // On by default for a device login; an anonymous agent has no login for signatures to name.
  const signing = top.signing ?? credentials.username !== undefined;
  if (typeof signing !== 'boolean') throw new Error(`signing must be true or false, got ${JSON.stringify(signing)}`);
  // Beside the queue by default: the agent's one writable place under agent.service (StateDirectory).
  const keyFile = resolve(baseDir, optionalString(top, 'key_file', 'key_file') ?? join(dirname(queueDir), 'agent.key'));
  if (signing && credentials.username === undefined) throw new Error('signing needs the device\'s username (credentials_file or username): signatures are bound to it');

  if (!Array.isArray(top.sensors) || top.sensors.length === 0) throw new Error('sensors must be a list with at least one sensor');
  const sensors = top.sensors.map((entry, i) => sensorOf(entry, `sensors[${i}]`, baseDir));
  const keys = new Set<string>();
  for (const sensor of sensors) {
    if (keys.has(sensor.key)) throw new Error(`sensor key "${sensor.key}" is used twice: keys name the values and must be unique`);
    keys.add(sensor.key);
  }

  return { broker, ...credentials, device, convention: convention as ConventionName, queueDir, maxQueued: maxQueued as number, signing, keyFile, sensors };
}

/** The device description the conventions announce: one sensor per configured sensor. */
export function sensorSpecsOf(config: AgentConfig): SensorSpec[] {
  return config.sensors.map((s) => ({ key: s.key, kind: 'sensor', ...(s.unit ? { unit: s.unit } : {}), ...(s.deviceClass ? { deviceClass: s.deviceClass } : {}) }));
}

function credentialsOf(top: Record<string, unknown>, baseDir: string): { username?: string; password?: string } {
  const file = optionalString(top, 'credentials_file', 'credentials_file');
  const username = optionalString(top, 'username', 'username');
  const password = optionalString(top, 'password', 'password');
  if (file === undefined) return { ...(username !== undefined ? { username } : {}), ...(password !== undefined ? { password } : {}) };
  if (username !== undefined || password !== undefined) throw new Error('give either credentials_file or username/password, not both');
  const path = resolve(baseDir, file);
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`credentials_file ${path}: ${(err as Error).message}`);
  }
  const creds = map(parsed, `credentials_file ${path}`);
  // What `hearth device add NAME --json` prints.
  return { username: requiredString(creds, 'username', `${path} username`), password: requiredString(creds, 'password', `${path} password`) };
}

function sensorOf(entry: unknown, where: string, baseDir: string): SensorConfig {
  const s = map(entry, where);
  const driver = requiredString(s, 'driver', `${where}.driver`);
  if (!DRIVERS.includes(driver as DriverName)) throw new Error(`${where}.driver must be one of ${DRIVERS.join(', ')}, got ${JSON.stringify(driver)}`);
  const common: SensorCommon = { key: requiredString(s, 'key', `${where}.key`) };
  if (!/^[A-Za-z0-9_]{1,64}$/.test(common.key)) throw new Error(`${where}.key must be 1-64 characters of A-Z a-z 0-9 _, got ${JSON.stringify(common.key)}`);
  const unit = optionalString(s, 'unit', `${where}.unit`);
  const deviceClass = optionalString(s, 'device_class', `${where}.device_class`);
  if (unit !== undefined) common.unit = unit;
  if (deviceClass !== undefined) common.deviceClass = deviceClass;
  const shared = ['driver', 'key', 'unit', 'device_class'];

  if (driver === 'stdin') {
    onlyKeys(s, where, shared);
    return { ...common, driver };
  }
  const intervalMs = seconds(s.interval_seconds ?? DEFAULT_INTERVAL_SECONDS, `${where}.interval_seconds`, 0.1, 86_400);
  if (driver === 'thermal_zone') {
    onlyKeys(s, where, [...shared, 'interval_seconds', 'root', 'zone']);
    const root = optionalString(s, 'root', `${where}.root`);
    const zone = optionalString(s, 'zone', `${where}.zone`);
    return { ...common, driver, intervalMs, ...(root ? { root: resolve(baseDir, root) } : {}), ...(zone ? { zone } : {}) };
  }
  if (driver === 'ds18b20') {
    onlyKeys(s, where, [...shared, 'interval_seconds', 'root', 'device']);
    const root = optionalString(s, 'root', `${where}.root`);
    const device = optionalString(s, 'device', `${where}.device`);
    if (device !== undefined && !/^28-[0-9a-f]{12}$/i.test(device)) throw new Error(`${where}.device must be a DS18B20 id like 28-0316a2796eff, got ${JSON.stringify(device)}`);
    return { ...common, driver, intervalMs, ...(root ? { root: resolve(baseDir, root) } : {}), ...(device ? { device } : {}) };
  }
  onlyKeys(s, where, [...shared, 'interval_seconds', 'command', 'timeout_seconds', 'pattern', 'shell']);
  const shell = s.shell ?? false;
  if (typeof shell !== 'boolean') throw new Error(`${where}.shell must be true or false, got ${JSON.stringify(shell)}`);
  const command = commandOf(s.command, `${where}.command`, shell);
  const timeoutMs = seconds(s.timeout_seconds ?? DEFAULT_COMMAND_TIMEOUT_SECONDS, `${where}.timeout_seconds`, 0.1, 3600);
  const pattern = optionalString(s, 'pattern', `${where}.pattern`);
  if (pattern !== undefined) {
    try {
      new RegExp(pattern);
    } catch (err) {
      throw new Error(`${where}.pattern is not a regular expression: ${(err as Error).message}`);
    }
  }
  return { ...common, driver: 'command', intervalMs, command, timeoutMs, shell, ...(pattern !== undefined ? { pattern } : {}) };
}

/** A list of arguments; a single string only with `shell: true`, where the shell splits it. */
function commandOf(value: unknown, where: string, shell: boolean): string[] {
  if (shell && typeof value === 'string' && value.trim() !== '') return [value];
  if (Array.isArray(value) && value.length > 0 && value.every((a) => typeof a === 'string') && value[0] !== '') return value as string[];
  throw new Error(
    shell
      ? `${where} must be a command line or a list of arguments, got ${JSON.stringify(value)}`
      : `${where} must be a list of arguments like [vcgencmd, measure_temp] (a single command line needs shell: true), got ${JSON.stringify(value)}`,
  );
}

function seconds(value: unknown, where: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    throw new Error(`${where} must be a number of seconds from ${min} to ${max}, got ${JSON.stringify(value)}`);
  }
  return Math.round(value * 1000);
}

function map(value: unknown, where: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error(`${where} must be a map, got ${JSON.stringify(value)}`);
  return value as Record<string, unknown>;
}

function onlyKeys(obj: Record<string, unknown>, where: string, allowed: string[]): void {
  for (const key of Object.keys(obj)) {
    if (!allowed.includes(key)) throw new Error(`${where}: unknown setting "${key}" (known: ${allowed.join(', ')})`);
  }
}

function optionalString(obj: Record<string, unknown>, key: string, where: string): string | undefined {
  const value = obj[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw new Error(`${where} must be a string, got ${JSON.stringify(value)}`);
  return value;
}

function requiredString(obj: Record<string, unknown>, key: string, where: string): string {
  const value = optionalString(obj, key, where);
  if (value === undefined || value === '') throw new Error(`${where} is required`);
  return value;
}
