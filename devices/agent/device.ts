/**
 * What a device is and what it says, independent of any MQTT convention: its description (the
 * sensors and actuators it has) and its readings (every value it measured at one instant).
 */

/** A value a sensor reports or an actuator holds. Switches use `'ON' | 'OFF'`. */
export type SensorValue = number | string | boolean;

/** All the values a device measured (or an actuator holds) at one instant, by sensor key. */
export type SensorValues = Record<string, SensorValue>;

export interface SensorSpec {
  /** Stable key, unique within the device, e.g. `temperature`, `power`. */
  key: string;
  /** `sensor` only reports; `switch` also accepts ON/OFF commands. */
  kind: 'sensor' | 'switch';
  unit?: string;
  /** Home Assistant device class (`temperature`, `humidity`, `switch`...). */
  deviceClass?: string;
}

export interface DeviceDescription {
  /** MQTT-safe id (no `/`, `+`, `#`), also the Hearth device name. */
  id: string;
  /** Human name. */
  name: string;
  model: string;
  manufacturer: string;
  sensors: SensorSpec[];
}

/** One sample: the values taken at `ts` (milliseconds since the epoch). */
export interface Reading {
  ts: number;
  values: SensorValues;
}

/** A command that reached the device: set sensor `key` (an actuator) to `value`. */
export interface DeviceCommand {
  key: string;
  value: SensorValue;
}

/** A message the agent publishes. */
export interface OutboundMessage {
  topic: string;
  payload: string;
  retain: boolean;
}

/** Rejects ids that would break topic structure in every convention. */
export function assertMqttSafeId(id: string): void {
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(id)) {
    throw new Error(`device id "${id}" must be 1-64 characters of A-Z a-z 0-9 _ -`);
  }
}
