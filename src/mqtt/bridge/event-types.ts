/**
 * Hearth's custom event types, in one reverse-DNS namespace (`org.hearth.*`), documented with
 * examples in docs/events.md. Content builders live here so the documentation and the code agree.
 */
import type { SensorInfo, SensorValue } from '../adapters/model.js';
import type { BridgedDevice } from './registry.js';

export const EventType = {
  /** State, state_key `''` (area rooms: the device key): what the device is and what it measures. */
  Device: 'org.hearth.device',
  /** State, same state_key as the device event: whether the device is reachable. */
  Availability: 'org.hearth.availability',
  /** State, state_key = sensor key (area rooms: `<device>/<sensor>`): the sensor's latest value, throttled. */
  Sensor: 'org.hearth.sensor',
  /** Timeline, sent by a person: set a sensor to a value. */
  Command: 'org.hearth.command',
  /** Timeline, sent by the device user: how a command ended. */
  CommandResult: 'org.hearth.command.result',
} as const;

/** Power level needed to send `org.hearth.command` in a device room (owners get exactly this). */
export const COMMAND_POWER_LEVEL = 50;

export function deviceContent(d: BridgedDevice): object {
  const sensors: Record<string, object> = {};
  for (const s of Object.values(d.sensors)) sensors[s.key] = sensorSummary(s);
  return {
    key: d.key,
    convention: d.convention,
    name: d.name,
    ...(d.model ? { model: d.model } : {}),
    ...(d.manufacturer ? { manufacturer: d.manufacturer } : {}),
    ...(d.swVersion ? { sw_version: d.swVersion } : {}),
    ...(d.area ? { area: d.area } : {}),
    sensors,
  };
}

function sensorSummary(s: SensorInfo): object {
  return {
    name: s.name,
    kind: s.kind,
    ...(s.unit ? { unit: s.unit } : {}),
    ...(s.deviceClass ? { device_class: s.deviceClass } : {}),
    ...(s.stateClass ? { state_class: s.stateClass } : {}),
    settable: s.command !== undefined,
  };
}

/**
 * A sensor value as event content. Event JSON admits only integers in [-(2^53)+1, 2^53-1]
 * (appendices "Canonical JSON"; rooms/v6+ reject floats), so any other number travels as its
 * decimal text (`21.4` -> `"21.4"`); the device event's `kind: number` tells clients to parse it.
 */
export function eventValue(value: SensorValue): SensorValue {
  return typeof value === 'number' && !Number.isSafeInteger(value) ? String(value) : value;
}

export function sensorContent(s: SensorInfo | undefined, sensorKey: string, value: SensorValue, ts: number): object {
  return {
    sensor: sensorKey,
    value: eventValue(value),
    ts,
    ...(s?.unit ? { unit: s.unit } : {}),
    ...(s?.deviceClass ? { device_class: s.deviceClass } : {}),
  };
}

export function availabilityContent(online: boolean, ts: number): object {
  return { online, ts };
}
