/**
 * Zigbee2MQTT (https://www.zigbee2mqtt.io/guide/usage/mqtt_topics_and_messages.html).
 *
 * - State: `zigbee2mqtt/<device>`, JSON with every value and `last_seen` (ISO 8601).
 * - Availability: `zigbee2mqtt/<device>/availability`, `{"state":"online"|"offline"}`, retained.
 * - Commands: `zigbee2mqtt/<device>/set`, JSON such as `{"state":"ON"}` (or a bare `ON`/`OFF`).
 * - Device list: the bridge's retained `zigbee2mqtt/bridge/devices` ({@link bridgeDevicesMessage});
 *   published by whoever plays the bridge (the simulator fleet, or an agent with `--announce-bridge`).
 */
import { createHash } from 'node:crypto';
import type { DeviceCommand, DeviceDescription, OutboundMessage, SensorSpec } from '../device.js';
import { isoTime, parseSwitchPayload, type Convention } from './convention.js';

const BASE = 'zigbee2mqtt';

function availability(device: DeviceDescription, state: 'online' | 'offline'): OutboundMessage {
  return { topic: `${BASE}/${device.id}/availability`, payload: JSON.stringify({ state }), retain: true };
}

/** A stable fake IEEE address derived from the device id. */
function ieeeAddress(id: string): string {
  return `0x${createHash('sha256').update(id).digest('hex').slice(0, 16)}`;
}

/** Zigbee2MQTT "exposes": numeric sensors are read-only (access 1), switches read/write/get (7). */
function expose(sensor: SensorSpec): Record<string, unknown> {
  if (sensor.kind === 'switch') {
    return {
      type: 'switch',
      features: [{ type: 'binary', name: sensor.key, property: sensor.key, value_on: 'ON', value_off: 'OFF', access: 7 }],
    };
  }
  return { type: 'numeric', name: sensor.key, property: sensor.key, unit: sensor.unit, access: 1 };
}

/** The bridge's retained device list for the given devices. */
export function bridgeDevicesMessage(devices: DeviceDescription[]): OutboundMessage {
  const list = devices.map((device) => ({
    ieee_address: ieeeAddress(device.id),
    friendly_name: device.id,
    type: 'EndDevice',
    supported: true,
    definition: {
      model: device.model,
      vendor: device.manufacturer,
      description: device.name,
      exposes: device.sensors.map(expose),
    },
  }));
  return { topic: `${BASE}/bridge/devices`, payload: JSON.stringify(list), retain: true };
}

export const zigbee2mqtt: Convention = {
  name: 'zigbee2mqtt',
  will: (device) => availability(device, 'offline'),
  goodbye: (device) => availability(device, 'offline'),
  announce: (device) => [availability(device, 'online')],
  encodeReading: (device, reading) => [
    { topic: `${BASE}/${device.id}`, payload: JSON.stringify({ ...reading.values, last_seen: isoTime(reading.ts) }), retain: false },
  ],
  commandTopics: (device) => [`${BASE}/${device.id}/set`],
  decodeCommand(device, topic, payload) {
    if (topic !== `${BASE}/${device.id}/set`) return [];
    const text = payload.toString('utf8');
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = { state: text };
    }
    if (body === null || typeof body !== 'object') return [];
    const commands: DeviceCommand[] = [];
    for (const [key, raw] of Object.entries(body as Record<string, unknown>)) {
      const sensor = device.sensors.find((s) => s.key === key && s.kind === 'switch');
      const value = typeof raw === 'string' ? parseSwitchPayload(raw) : undefined;
      if (sensor && value) commands.push({ key, value });
    }
    return commands;
  },
};
