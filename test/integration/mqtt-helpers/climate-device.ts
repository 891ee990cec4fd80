/**
 * The Home Assistant device the status page tests watch: an ESP32 climate sensor with a temperature
 * sensor and a fan relay, announced by retained discovery, online, reporting 21.5 °C and OFF.
 */
import type mqtt from 'mqtt';

/**
 * Announces the device `id` (its topics' base; `name` its display name) as the real firmware does:
 * discovery and availability retained, then one reading of each entity. `uniquePrefix` starts the
 * entities' `uniq_id`s.
 */
export async function announceClimateDevice(client: mqtt.MqttClient, id: string, name: string, uniquePrefix: string): Promise<void> {
  const dev = { ids: [id], name, mdl: 'ESP32 BME280', mf: 'espressif' };
  await client.publishAsync(`homeassistant/sensor/${id}/temperature/config`, JSON.stringify({
    '~': id, name: 'Temperature', uniq_id: `${uniquePrefix}_t`, stat_t: '~/temperature', unit_of_meas: '°C', dev_cla: 'temperature', avty_t: '~/status', dev,
  }), { qos: 1, retain: true });
  await client.publishAsync(`homeassistant/switch/${id}/relay/config`, JSON.stringify({
    '~': id, name: 'Fan relay', uniq_id: `${uniquePrefix}_r`, stat_t: '~/relay', cmd_t: '~/relay/set', avty_t: '~/status', dev,
  }), { qos: 1, retain: true });
  await client.publishAsync(`${id}/status`, 'online', { qos: 1, retain: true });
  await client.publishAsync(`${id}/temperature`, '21.5', { qos: 1 });
  await client.publishAsync(`${id}/relay`, 'OFF', { qos: 1 });
}
