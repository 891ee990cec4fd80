/**
 * Home Assistant MQTT discovery (https://www.home-assistant.io/integrations/mqtt/#mqtt-discovery).
 *
 * - Discovery, retained, one per sensor: `homeassistant/<component>/<device>/<key>/config` with the
 *   abbreviated keys HA documents (`~`, `stat_t`, `val_tpl`, `cmd_t`, `avty_t`, `dev`...).
 * - State: `<device>/state`, JSON with every value of the reading and its `time`; each
 *   entity picks its key with `val_tpl: {{ value_json.<key> }}`.
 * - Availability: `<device>/availability`, `online` / `offline`, retained, also the last will.
 * - Commands: `<device>/<key>/set`, payload `ON` / `OFF`.
 * State, availability and command topics live under the device's own name, as ESPHome's do: that
 * is the base topic a gateway's ACL gives a device (Hearth: docs/mqtt.md "ACL").
 */
import type { DeviceDescription, OutboundMessage, Reading, SensorSpec } from '../device.js';
import { isoTime, parseSwitchPayload, type Convention } from './convention.js';

const DISCOVERY_PREFIX = 'homeassistant';

function base(device: DeviceDescription): string {
  return device.id;
}

function discoveryPayload(device: DeviceDescription, sensor: SensorSpec): Record<string, unknown> {
  const config: Record<string, unknown> = {
    '~': base(device),
    name: sensor.key,
    uniq_id: `${device.id}_${sensor.key}`,
    stat_t: '~/state',
    val_tpl: `{{ value_json.${sensor.key} }}`,
    avty_t: '~/availability',
    dev: { ids: [device.id], name: device.name, mdl: device.model, mf: device.manufacturer },
  };
  if (sensor.unit) config.unit_of_meas = sensor.unit;
  if (sensor.deviceClass) config.dev_cla = sensor.deviceClass;
  if (sensor.kind === 'switch') {
    config.cmd_t = `~/${sensor.key}/set`;
    config.pl_on = 'ON';
    config.pl_off = 'OFF';
  } else {
    config.stat_cla = 'measurement';
  }
  return config;
}

export const homeAssistant: Convention = {
  name: 'homeassistant',
  will: (device) => ({ topic: `${base(device)}/availability`, payload: 'offline', retain: true }),
  goodbye: (device) => ({ topic: `${base(device)}/availability`, payload: 'offline', retain: true }),
  announce(device) {
    const configs: OutboundMessage[] = device.sensors.map((sensor) => ({
      topic: `${DISCOVERY_PREFIX}/${sensor.kind === 'switch' ? 'switch' : 'sensor'}/${device.id}/${sensor.key}/config`,
      payload: JSON.stringify(discoveryPayload(device, sensor)),
      retain: true,
    }));
    return [...configs, { topic: `${base(device)}/availability`, payload: 'online', retain: true }];
  },
  encodeReading: (device, reading: Reading) => [
    { topic: `${base(device)}/state`, payload: JSON.stringify({ ...reading.values, time: isoTime(reading.ts) }), retain: false },
  ],
  commandTopics: (device) => device.sensors.filter((s) => s.kind === 'switch').map((s) => `${base(device)}/${s.key}/set`),
  decodeCommand(device, topic, payload) {
    const prefix = `${base(device)}/`;
    if (!topic.startsWith(prefix) || !topic.endsWith('/set')) return [];
    const key = topic.slice(prefix.length, -'/set'.length);
    const value = parseSwitchPayload(payload.toString('utf8'));
    return device.sensors.some((s) => s.key === key && s.kind === 'switch') && value ? [{ key, value }] : [];
  },
};
