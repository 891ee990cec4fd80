/**
 * Home Assistant MQTT discovery (HA docs "MQTT Discovery"):
 *   <prefix>/<component>/[<node_id>/]<object_id>/config   one entity
 *   <prefix>/device/<id>/config                           one device with `cmps` (components)
 * Payloads are JSON with optional abbreviations and a `~` base topic; an empty payload deletes what
 * the topic announced. After discovery the entity's `state_topic` and availability topics carry
 * values; those topics are arbitrary, so the bridge indexes the bindings announced here and calls
 * `readHomeAssistantState` / `readHomeAssistantAvailability` for them.
 */
import { DEVICE_ABBREVIATIONS, ENTITY_ABBREVIATIONS, ORIGIN_ABBREVIATIONS } from './homeassistant-abbreviations.js';
import { applyValueTemplate, compileValueTemplate } from './homeassistant-template.js';
import {
  MalformedPayload,
  deviceKey,
  slugify,
  type AdapterOutcome,
  type AvailabilityBinding,
  type DeviceAnnouncement,
  type Observation,
  type SensorInfo,
  type StateBinding,
  type ValueKind,
} from './model.js';
import { decodePayload, isObject, toSensorValue } from './payload.js';
import { startsWithLevel } from './topic-filter.js';

export const HA_DISCOVERY_PREFIX = 'homeassistant';
const ID = /^[a-zA-Z0-9_-]+$/;

type Config = Record<string, unknown>;

/** Parses a discovery topic and payload; `undefined` when the topic is not a discovery topic. */
export function parseHomeAssistantDiscovery(topic: string, payload: Buffer, prefix = HA_DISCOVERY_PREFIX): AdapterOutcome {
  if (!startsWithLevel(topic, prefix)) return undefined;
  const levels = topic.split('/');
  // `<prefix>/status` is HA's own birth/will message: nothing for the bridge.
  if (levels.length === 2 && levels[1] === 'status') return [];
  if (levels.length < 4 || levels.length > 5 || levels[levels.length - 1] !== 'config') return undefined;
  const ids = levels.slice(1, -1);
  if (!ids.every((id) => ID.test(id))) return undefined;

  // An empty (retained) payload deletes what this topic announced.
  if (payload.length === 0) return [{ kind: 'retract', sourceTopic: topic }];
  const decoded = decodePayload(payload);
  if (!isObject(decoded)) throw new MalformedPayload('discovery payload is not a JSON object');
  const config = expand(decoded);

  if (ids[0] === 'device' && ids.length === 2) {
    return [announceDevice(topic, ids[1]!, config)];
  }
  const [component, nodeId, objectId] = ids.length === 3 ? ids : [ids[0]!, undefined, ids[1]!];
  const announcement = announceEntities(topic, config, [{ key: objectId!, component: component!, options: config }], nodeId);
  return [announcement];
}

/** `homeassistant/device/<id>/config`: shared options at the top level, entities under `components`. */
function announceDevice(topic: string, id: string, config: Config): Observation {
  const components = config.components;
  if (!isObject(components)) throw new MalformedPayload('device discovery without components');
  const shared: Config = {};
  for (const [k, v] of Object.entries(config)) {
    if (k !== 'components' && k !== 'device' && k !== 'origin') shared[k] = v;
  }
  const entities = Object.entries(components).flatMap(([key, c]) => {
    if (!isObject(c)) return [];
    // Shared options (including `~`) apply to every component unless it overrides them.
    const options = expand({ ...shared, ...c });
    const platform = options.platform;
    // A component with only `platform` left is being removed from the device (HA docs).
    if (typeof platform !== 'string' || Object.keys(c).length <= 1) return [];
    return [{ key, component: platform, options }];
  });
  return announceEntities(topic, config, entities, id);
}

interface Entity {
  key: string;
  component: string;
  options: Config;
}

function announceEntities(topic: string, config: Config, entities: Entity[], fallbackId: string | undefined): Observation {
  const device = isObject(config.device) ? config.device : {};
  const identifiers = device.identifiers;
  const firstId = Array.isArray(identifiers) ? identifiers[0] : identifiers;
  const first = entities[0];
  const rawId = str(firstId) ?? fallbackId ?? str(first?.options.unique_id) ?? first?.key ?? topic;
  const key = deviceKey('homeassistant', rawId);

  const sensors: SensorInfo[] = [];
  const stateBindings: StateBinding[] = [];
  const availabilityBindings: AvailabilityBinding[] = [];
  let availabilityMode: 'all' | 'any' | 'latest' = 'latest';
  for (const e of entities) {
    const sensor = sensorFor(e);
    sensors.push(sensor);
    const stateTopic = str(e.options.state_topic);
    if (stateTopic) {
      stateBindings.push({ topic: stateTopic, deviceKey: key, sensor: sensor.key, valueTemplate: str(e.options.value_template) ?? str(e.options.state_value_template) });
    }
    const avail = availabilityOf(e.options, key);
    availabilityBindings.push(...avail.bindings.filter((b) => !availabilityBindings.some((x) => x.topic === b.topic)));
    availabilityMode = avail.mode;
  }

  const name = str(device.name) ?? str(first?.options.name) ?? rawId;
  const announcement: DeviceAnnouncement = {
    key,
    convention: 'homeassistant',
    name,
    sensors,
    sourceTopic: topic,
    stateBindings,
  };
  const model = str(device.model);
  if (model) announcement.model = model;
  const manufacturer = str(device.manufacturer);
  if (manufacturer) announcement.manufacturer = manufacturer;
  const sw = str(device.sw_version);
  if (sw) announcement.swVersion = sw;
  const area = str(device.suggested_area);
  if (area) announcement.area = area;
  if (availabilityBindings.length > 0) announcement.availability = { mode: availabilityMode, bindings: availabilityBindings };
  return { kind: 'announce', device: announcement };
}

/** Which kind of value and which on/off payloads a component has (HA integration docs per platform). */
function sensorFor(e: Entity): SensorInfo {
  const o = e.options;
  const switchLike = ['switch', 'binary_sensor', 'light', 'fan', 'siren'].includes(e.component);
  const kind: ValueKind = switchLike ? 'boolean' : e.component === 'number' || o.unit_of_measurement !== undefined || o.state_class !== undefined ? 'number' : 'string';
  const sensor: SensorInfo = {
    key: slugify(e.key),
    name: str(o.name) ?? e.key,
    kind,
  };
  const unit = str(o.unit_of_measurement);
  if (unit) sensor.unit = unit;
  const deviceClass = str(o.device_class);
  if (deviceClass) sensor.deviceClass = deviceClass;
  const stateClass = str(o.state_class);
  if (stateClass) sensor.stateClass = stateClass;
  if (switchLike) {
    // Defaults: payload_on "ON", payload_off "OFF"; state_on/state_off default to the payloads.
    const payloadOn = str(o.payload_on) ?? 'ON';
    const payloadOff = str(o.payload_off) ?? 'OFF';
    sensor.on = str(o.state_on) ?? payloadOn;
    sensor.off = str(o.state_off) ?? payloadOff;
    const commandTopic = str(o.command_topic);
    if (commandTopic) sensor.command = { topic: commandTopic, encoding: 'plain', on: payloadOn, off: payloadOff };
  } else {
    const commandTopic = str(o.command_topic);
    if (commandTopic) sensor.command = { topic: commandTopic, encoding: 'plain' };
  }
  return sensor;
}

/**
 * Availability (HA docs "availability"): either `availability_topic` or a list `availability` of
 * `{ topic, payload_available, payload_not_available, value_template }`, combined by
 * `availability_mode` (`latest` by default). Payloads default to `online`/`offline`.
 */
function availabilityOf(o: Config, key: string): { mode: 'all' | 'any' | 'latest'; bindings: AvailabilityBinding[] } {
  const defaults = {
    payloadAvailable: str(o.payload_available) ?? 'online',
    payloadNotAvailable: str(o.payload_not_available) ?? 'offline',
  };
  const bindings: AvailabilityBinding[] = [];
  const single = str(o.availability_topic);
  if (single) {
    bindings.push({ topic: single, deviceKey: key, ...defaults, ...(str(o.availability_template) ? { valueTemplate: str(o.availability_template)! } : {}) });
  }
  if (Array.isArray(o.availability)) {
    for (const item of o.availability) {
      if (!isObject(item) || !str(item.topic)) continue;
      const b: AvailabilityBinding = {
        topic: str(item.topic)!,
        deviceKey: key,
        payloadAvailable: str(item.payload_available) ?? defaults.payloadAvailable,
        payloadNotAvailable: str(item.payload_not_available) ?? defaults.payloadNotAvailable,
      };
      const tpl = str(item.value_template);
      if (tpl) b.valueTemplate = tpl;
      bindings.push(b);
    }
  }
  const mode = o.availability_mode === 'all' || o.availability_mode === 'any' ? o.availability_mode : 'latest';
  return { mode, bindings };
}

/** Reads a value published on an entity's state topic. */
export function readHomeAssistantState(binding: StateBinding, payload: Buffer, now: number): Observation[] {
  if (payload.length === 0) return [];
  const raw = templated(binding.valueTemplate, payload);
  const value = toSensorValue(raw);
  if (value === undefined) throw new MalformedPayload(`no value for ${binding.sensor} in state payload`);
  return [{ kind: 'reading', reading: { deviceKey: binding.deviceKey, sensor: binding.sensor, value, ts: now } }];
}

/** Reads an availability topic; a payload that is neither available nor not-available is ignored (as HA does). */
export function readHomeAssistantAvailability(binding: AvailabilityBinding, payload: Buffer): Observation[] {
  const value = String(templated(binding.valueTemplate, payload) ?? '');
  if (value === binding.payloadAvailable) return [{ kind: 'availability', availability: { deviceKey: binding.deviceKey, online: true, topic: binding.topic } }];
  if (value === binding.payloadNotAvailable) return [{ kind: 'availability', availability: { deviceKey: binding.deviceKey, online: false, topic: binding.topic } }];
  return [];
}

function templated(template: string | undefined, payload: Buffer): unknown {
  const decoded = decodePayload(payload);
  if (!template) return decoded;
  const compiled = compileValueTemplate(template);
  if (!compiled) throw new MalformedPayload(`unsupported value_template ${JSON.stringify(template)}`);
  const text = typeof decoded === 'string' ? decoded : payload.toString('utf8');
  return applyValueTemplate(compiled, text, decoded);
}

/**
 * Expands abbreviations (top level, `device`, `origin`, availability items) and substitutes the `~`
 * base topic into every `*_topic` option and availability `topic` (HA docs: "~" at the start or end).
 */
function expand(raw: Config): Config {
  const out = expandKeys(raw, ENTITY_ABBREVIATIONS);
  if (isObject(out.device)) out.device = expandKeys(out.device, DEVICE_ABBREVIATIONS);
  if (isObject(out.origin)) out.origin = expandKeys(out.origin, ORIGIN_ABBREVIATIONS);
  if (Array.isArray(out.availability)) {
    out.availability = out.availability.map((a) => (isObject(a) ? expandKeys(a, ENTITY_ABBREVIATIONS) : a));
  }
  const base = str(out['~']);
  if (base !== undefined) {
    for (const [k, v] of Object.entries(out)) {
      if (k.endsWith('_topic') && typeof v === 'string') out[k] = withBase(v, base);
    }
    if (Array.isArray(out.availability)) {
      for (const a of out.availability) {
        if (isObject(a) && typeof a.topic === 'string') a.topic = withBase(a.topic, base);
      }
    }
  }
  return out;
}

function expandKeys(obj: Config, table: Readonly<Record<string, string>>): Config {
  const out: Config = {};
  for (const [k, v] of Object.entries(obj)) out[table[k] ?? k] = v;
  return out;
}

function withBase(topic: string, base: string): string {
  if (topic.startsWith('~')) return base + topic.slice(1);
  if (topic.endsWith('~')) return topic.slice(0, -1) + base;
  return topic;
}

function str(v: unknown): string | undefined {
  if (typeof v === 'string' && v.length > 0) return v;
  if (typeof v === 'number') return String(v);
  return undefined;
}
