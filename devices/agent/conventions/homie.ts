/**
 * Homie 5 (https://homieiot.github.io/specification/).
 *
 * - `homie/5/<device>/$state`: `init` while describing, then `ready`; the last will is `lost`,
 *   a clean shutdown says `disconnected`. Retained.
 * - `homie/5/<device>/$description`: JSON with `homie`, `version`, `name` and one node `main`
 *   whose properties are the device's sensors (float with unit) and switches (boolean, settable).
 * - Values: `homie/5/<device>/main/<key>`, retained, one message per property. Homie carries no
 *   timestamp: order of arrival is the order of measurement.
 * - Commands: `homie/5/<device>/main/<key>/set` with `true` / `false`.
 */
import { createHash } from 'node:crypto';
import type { DeviceDescription, OutboundMessage, SensorSpec, SensorValue } from '../device.js';
import { parseSwitchPayload, type Convention } from './convention.js';

const NODE = 'main';

function root(device: DeviceDescription): string {
  return `homie/5/${device.id}`;
}

function state(device: DeviceDescription, value: 'init' | 'ready' | 'lost' | 'disconnected'): OutboundMessage {
  return { topic: `${root(device)}/$state`, payload: value, retain: true };
}

function property(sensor: SensorSpec): Record<string, unknown> {
  if (sensor.kind === 'switch') return { name: sensor.key, datatype: 'boolean', settable: true, retained: true };
  const prop: Record<string, unknown> = { name: sensor.key, datatype: 'float', retained: true };
  if (sensor.unit) prop.unit = sensor.unit;
  return prop;
}

/** Homie 5 `version`: an integer that changes whenever the description changes. */
function descriptionVersion(description: object): number {
  return createHash('sha256').update(JSON.stringify(description)).digest().readUInt32BE(0);
}

function encodeValue(sensor: SensorSpec | undefined, value: SensorValue): string {
  if (sensor?.kind === 'switch') return value === 'ON' || value === true ? 'true' : 'false';
  return String(value);
}

export const homie: Convention = {
  name: 'homie',
  will: (device) => state(device, 'lost'),
  goodbye: (device) => state(device, 'disconnected'),
  announce(device) {
    const nodes = {
      [NODE]: { name: device.name, properties: Object.fromEntries(device.sensors.map((s) => [s.key, property(s)])) },
    };
    const body = { name: device.name, nodes };
    const description = { homie: '5.0', version: descriptionVersion(body), ...body };
    return [
      state(device, 'init'),
      { topic: `${root(device)}/$description`, payload: JSON.stringify(description), retain: true },
      state(device, 'ready'),
    ];
  },
  encodeReading: (device, reading) =>
    Object.entries(reading.values).map(([key, value]) => ({
      topic: `${root(device)}/${NODE}/${key}`,
      payload: encodeValue(device.sensors.find((s) => s.key === key), value),
      retain: true,
    })),
  commandTopics: (device) => device.sensors.filter((s) => s.kind === 'switch').map((s) => `${root(device)}/${NODE}/${s.key}/set`),
  decodeCommand(device, topic, payload) {
    const prefix = `${root(device)}/${NODE}/`;
    if (!topic.startsWith(prefix) || !topic.endsWith('/set')) return [];
    const key = topic.slice(prefix.length, -'/set'.length);
    const value = parseSwitchPayload(payload.toString('utf8'));
    return device.sensors.some((s) => s.key === key && s.kind === 'switch') && value ? [{ key, value }] : [];
  },
};
