/**
 * The normalised model every convention adapter produces. Adapters are pure: a topic and a payload
 * go in, observations come out; the bridge (src/mqtt/bridge/) turns observations into rooms, state
 * events and telemetry. Nothing here knows about Matrix or storage.
 */

export type Convention = 'homeassistant' | 'zigbee2mqtt' | 'homie' | 'tasmota' | 'raw';

export type SensorValue = number | string | boolean;

/** What kind of value a sensor carries; `boolean` sensors map the convention's on/off payloads. */
export type ValueKind = 'number' | 'boolean' | 'string';

/**
 * How a command for one sensor is published in the device's own convention.
 * - `plain`: the value itself is the payload (HA `command_topic`, Homie `/set`, Tasmota `cmnd/`);
 * - `json-property`: a JSON object `{ [property]: value }` (Zigbee2MQTT `<name>/set`).
 * Booleans become `on`/`off` when given (HA `payload_on`/`payload_off`, Z2M `value_on`/`value_off`).
 */
export interface CommandSpec {
  topic: string;
  encoding: 'plain' | 'json-property';
  property?: string;
  on?: string;
  off?: string;
}

export interface SensorInfo {
  /** Unique within the device; the `state_key` of the sensor's state event. */
  key: string;
  name: string;
  kind: ValueKind;
  unit?: string;
  deviceClass?: string;
  stateClass?: string;
  /** For boolean sensors: the payload values that mean on and off (`ON`/`OFF`, `true`/`false`). */
  on?: string;
  off?: string;
  /** Present when the sensor accepts commands. */
  command?: CommandSpec;
  /**
   * Guessed from a value rather than announced by the device (a Z2M state message before
   * `bridge/devices`, a Tasmota `SENSOR` message): never overrides announced information.
   */
  inferred?: boolean;
}

/** How a Home Assistant entity's state topic is read (the bridge indexes these by topic). */
export interface StateBinding {
  topic: string;
  deviceKey: string;
  sensor: string;
  /** A `value_template` of one of the simple forms the adapter understands (see homeassistant-template.ts). */
  valueTemplate?: string;
}

/** How an availability topic is read (Home Assistant; the other conventions have fixed topics). */
export interface AvailabilityBinding {
  topic: string;
  deviceKey: string;
  payloadAvailable: string;
  payloadNotAvailable: string;
  valueTemplate?: string;
}

/** What a device says about itself, as an announcement carries it and the bridge keeps it. */
export interface DeviceDescription {
  /** Stable device key, safe as a Matrix user localpart (see `deviceKey`). */
  key: string;
  convention: Convention;
  name: string;
  model?: string;
  manufacturer?: string;
  swVersion?: string;
  area?: string;
}

export interface DeviceAnnouncement extends DeviceDescription {
  /** Sensors announced by this message; the bridge merges them into what it knows of the device. */
  sensors: SensorInfo[];
  /** The topic that announced them (Home Assistant: the discovery topic, so an empty payload can delete them). */
  sourceTopic: string;
  /** Home Assistant only: state topics to read and availability topics with their mode. */
  stateBindings?: StateBinding[];
  availability?: { mode: 'all' | 'any' | 'latest'; bindings: AvailabilityBinding[] };
}

export interface Reading {
  deviceKey: string;
  sensor: string;
  value: SensorValue;
  ts: number;
}

export interface Availability {
  deviceKey: string;
  online: boolean;
  /** Home Assistant availability lists: which topic reported (the bridge applies the mode). */
  topic?: string;
}

/** A device's explicit answer to a command (Tasmota `stat/<t>/RESULT`, `stat/<t>/POWER`). */
export interface CommandResult {
  deviceKey: string;
  sensor: string;
  value: SensorValue;
  ts: number;
}

export type Observation =
  | { kind: 'announce'; device: DeviceAnnouncement }
  | { kind: 'retract'; sourceTopic: string; deviceKey?: string }
  | { kind: 'reading'; reading: Reading }
  | { kind: 'availability'; availability: Availability }
  | { kind: 'command-result'; result: CommandResult };

/**
 * What an adapter says about one message: `undefined` means "not my topic" (the dispatcher tries the
 * next adapter); an empty list means "mine, nothing to report" (e.g. a Tasmota `INFO1`).
 * Malformed payloads throw `MalformedPayload`.
 */
export type AdapterOutcome = Observation[] | undefined;

export class MalformedPayload extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MalformedPayload';
  }
}

/**
 * A device key: convention prefix plus the device's own id, lower-cased and restricted to the
 * characters of a Matrix user localpart (appendices "User Identifiers": `a-z 0-9 . _ = - /`), so
 * `ensureDeviceUser` can use it directly. Raw-rule devices keep their id without a prefix, so a
 * device registered with `hearth device add kitchen-sensor` maps to its own user.
 */
export function deviceKey(convention: Convention, id: string): string {
  const slug = slugify(id);
  return convention === 'raw' ? slug : `${PREFIX[convention]}.${slug}`;
}

const PREFIX: Record<Exclude<Convention, 'raw'>, string> = {
  homeassistant: 'ha',
  zigbee2mqtt: 'z2m',
  homie: 'homie',
  tasmota: 'tasmota',
};

/**
 * `compute` with its results remembered, up to `limit` inputs (then forgotten all at once): for
 * names that repeat in every message (property names, device names), so each is one string whose
 * hash the maps it keys keep.
 */
export function rememberStrings(compute: (input: string) => string, limit = 4096): (input: string) => string {
  const remembered = new Map<string, string>();
  return (input) => {
    let out = remembered.get(input);
    if (out === undefined) {
      if (remembered.size >= limit) remembered.clear();
      remembered.set(input, (out = compute(input)));
    }
    return out;
  };
}

export const slugify: (id: string) => string = rememberStrings((id) => id.toLowerCase().replace(/[^a-z0-9._=-]+/g, '_') || '_');
