/**
 * Tasmota (https://tasmota.github.io/docs/MQTT/), with the device id as Tasmota's `%topic%`.
 *
 * - `tele/<t>/LWT`: `Online` / `Offline`, retained, also the last will.
 * - Sensor readings: `tele/<t>/SENSOR`, `{"Time":"...","<Model>":{"Temperature":21.5,...},"TempUnit":"C"}`
 *   with Tasmota's capitalised keys under the sensor chip's name (the device model).
 * - Switch state: `stat/<t>/RESULT` `{"POWER":"ON"}` and `stat/<t>/POWER` `ON`.
 * - Commands: `cmnd/<t>/POWER` with `ON` / `OFF` / `TOGGLE`.
 */
import type { DeviceDescription, OutboundMessage, Reading } from '../device.js';
import { parseSwitchPayload, type Convention } from './convention.js';

/** Tasmota's `Time` is local time without a zone; the agent keeps UTC so replays stay unambiguous. */
function tasmotaTime(ts: number): string {
  return new Date(ts).toISOString().slice(0, 19);
}

function capitalise(key: string): string {
  return key.charAt(0).toUpperCase() + key.slice(1);
}

function lwt(device: DeviceDescription, payload: 'Online' | 'Offline'): OutboundMessage {
  return { topic: `tele/${device.id}/LWT`, payload, retain: true };
}

function switchKey(device: DeviceDescription): string | undefined {
  return device.sensors.find((s) => s.kind === 'switch')?.key;
}

export const tasmota: Convention = {
  name: 'tasmota',
  will: (device) => lwt(device, 'Offline'),
  goodbye: (device) => lwt(device, 'Offline'),
  announce: (device) => [lwt(device, 'Online')],
  encodeReading(device, reading: Reading) {
    const messages: OutboundMessage[] = [];
    const measured: Record<string, unknown> = {};
    let temperatureUnit: string | undefined;
    for (const [key, value] of Object.entries(reading.values)) {
      const sensor = device.sensors.find((s) => s.key === key);
      if (sensor?.kind === 'switch') {
        messages.push({ topic: `stat/${device.id}/RESULT`, payload: JSON.stringify({ POWER: value }), retain: false });
        messages.push({ topic: `stat/${device.id}/POWER`, payload: String(value), retain: false });
      } else {
        measured[capitalise(key)] = value;
        if (sensor?.unit === '°C') temperatureUnit = 'C';
        if (sensor?.unit === '°F') temperatureUnit = 'F';
      }
    }
    if (Object.keys(measured).length > 0) {
      const body: Record<string, unknown> = { Time: tasmotaTime(reading.ts), [device.model]: measured };
      if (temperatureUnit) body.TempUnit = temperatureUnit;
      messages.unshift({ topic: `tele/${device.id}/SENSOR`, payload: JSON.stringify(body), retain: false });
    }
    return messages;
  },
  commandTopics: (device) => (switchKey(device) ? [`cmnd/${device.id}/POWER`] : []),
  decodeCommand(device, topic, payload) {
    const key = switchKey(device);
    const value = parseSwitchPayload(payload.toString('utf8'));
    return key && topic === `cmnd/${device.id}/POWER` && value ? [{ key, value }] : [];
  },
};
