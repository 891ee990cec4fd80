/**
 * Issue 3 "Proof": sensors become rooms, end to end. One real gateway (`hearth run`), devices
 * speaking Home Assistant discovery, Zigbee2MQTT, Homie 5 and Tasmota through `mosquitto_pub` /
 * `mosquitto_sub` (and mqtt.js over WebSocket), and a person with matrix-js-sdk who is invited to
 * each device room, reads its state, and commands the devices.
 *
 * Tests run in order on one gateway: the command tests use the rooms the convention tests made.
 */
import test from 'ava';
import mqtt from 'mqtt';
import * as sdk from 'matrix-js-sdk';
import { silenceSdk, waitFor } from './helpers/sdk.js';
import { startMqttGateway, type DeviceCredentials, type MqttGateway } from './mqtt-helpers/gateway.js';
import { MosquittoSub, publish, type BrokerAddress } from './mqtt-helpers/mosquitto.js';
import { joinDeviceRoom, notices, startPerson, stateContent, waitForState, waitForTimelineEvent, type Person } from './mqtt-helpers/matrix.js';

silenceSdk();

let gateway: MqttGateway;
let alice: Person;
let bob: Person | undefined;
/** MQTT credentials per device name, from `hearth device add`. */
const devices: Record<string, DeviceCredentials> = {};
/** Room ids per bridged device key. */
const rooms: Record<string, string> = {};
const subs: MosquittoSub[] = [];

const DEVICE_NAMES = ['climate', 'zigbee2mqtt', 'boiler', 'plug', 'balcony'];

test.before(async () => {
  gateway = await startMqttGateway();
  // The admin exists before any device speaks: owners are looked up when a device room is created.
  const [person] = await Promise.all([
    startPerson(gateway, 'alice', 'alice password', { admin: true }),
    ...DEVICE_NAMES.map(async (name) => (devices[name] = await gateway.addDevice(name))),
  ]);
  alice = person;
});

test.afterEach.always((t) => {
  if (!t.passed) t.log(gateway.server.output());
});

test.after.always(async () => {
  for (const sub of subs) await sub.stop();
  alice?.client.stopClient();
  bob?.client.stopClient();
  await gateway?.stop();
});

function as(name: string): BrokerAddress {
  return { port: gateway.server.mqttPort, username: devices[name]!.username, password: devices[name]!.password };
}

function userId(localpart: string): string {
  return `@${localpart}:${gateway.server.serverName}`;
}

/** Asserts a sensor state event: exact content, with `ts` the gateway's receive time in [before, now]. */
function assertSensor(t: import('ava').ExecutionContext, content: Record<string, unknown>, expected: Record<string, unknown>, before: number) {
  const { ts, ...rest } = content;
  t.deepEqual(rest, expected);
  t.true(typeof ts === 'number' && ts >= before && ts <= Date.now(), `ts ${String(ts)} is the receive time`);
}

// ---- 1. Home Assistant discovery + state

const ESPHOME_DEVICE = { ids: ['climate-3c71bf'], name: 'Living room climate', mdl: 'ESP32 BME280', mf: 'espressif', sw: '2024.6.1' };

test.serial('Home Assistant: retained discovery with abbreviations and ~, then states -> a room with the device, sensors and availability', async (t) => {
  const climate = as('climate');
  const before = Date.now();
  // ESPHome's layout: discovery per entity, state and command topics under the device's name.
  await publish(climate, 'homeassistant/sensor/climate/temperature/config', JSON.stringify({
    '~': 'climate', name: 'Temperature', uniq_id: 'climate_temperature', stat_t: '~/sensor/temperature/state',
    unit_of_meas: '°C', dev_cla: 'temperature', stat_cla: 'measurement', avty_t: '~/status', dev: ESPHOME_DEVICE,
  }), { retain: true });
  await publish(climate, 'homeassistant/sensor/climate/humidity/config', JSON.stringify({
    '~': 'climate', name: 'Humidity', uniq_id: 'climate_humidity', stat_t: '~/sensor/humidity/state',
    unit_of_meas: '%', dev_cla: 'humidity', stat_cla: 'measurement', avty_t: '~/status', dev: ESPHOME_DEVICE,
  }), { retain: true });
  await publish(climate, 'homeassistant/switch/climate/relay/config', JSON.stringify({
    '~': 'climate', name: 'Fan relay', uniq_id: 'climate_relay', stat_t: '~/switch/relay/state', cmd_t: '~/switch/relay/command',
    avty_t: '~/status', dev: ESPHOME_DEVICE,
  }), { retain: true });
  await publish(climate, 'climate/status', 'online', { retain: true });
  await publish(climate, 'climate/sensor/temperature/state', '21.4', { retain: true });
  await publish(climate, 'climate/sensor/humidity/state', '48.2', { retain: true });
  await publish(climate, 'climate/switch/relay/state', 'OFF', { retain: true });

  const roomId = await joinDeviceRoom(alice.client, userId('ha.climate-3c71bf'));
  rooms['ha.climate-3c71bf'] = roomId;
  const device = await waitForState(alice.client, roomId, 'org.hearth.device', '', (c) => Object.keys(c.sensors as object).length === 3);
  t.deepEqual(device, {
    key: 'ha.climate-3c71bf',
    convention: 'homeassistant',
    name: 'Living room climate',
    model: 'ESP32 BME280',
    manufacturer: 'espressif',
    sw_version: '2024.6.1',
    sensors: {
      temperature: { name: 'Temperature', kind: 'number', unit: '°C', device_class: 'temperature', state_class: 'measurement', settable: false },
      humidity: { name: 'Humidity', kind: 'number', unit: '%', device_class: 'humidity', state_class: 'measurement', settable: false },
      relay: { name: 'Fan relay', kind: 'boolean', settable: true },
    },
  });
  const room = alice.client.getRoom(roomId)!;
  t.is(room.name, 'Living room climate');
  t.is(room.currentState.getStateEvents('org.hearth.device', '')!.getSender(), userId('ha.climate-3c71bf'));
  t.is(room.currentState.getStateEvents('m.room.create', '')!.getContent()['m.federate'], false);

  assertSensor(t, await waitForState(alice.client, roomId, 'org.hearth.sensor', 'temperature', () => true), { sensor: 'temperature', value: '21.4', unit: '°C', device_class: 'temperature' }, before);
  assertSensor(t, await waitForState(alice.client, roomId, 'org.hearth.sensor', 'humidity', () => true), { sensor: 'humidity', value: '48.2', unit: '%', device_class: 'humidity' }, before);
  assertSensor(t, await waitForState(alice.client, roomId, 'org.hearth.sensor', 'relay', () => true), { sensor: 'relay', value: false }, before);
  const availability = await waitForState(alice.client, roomId, 'org.hearth.availability', '', () => true);
  t.is(availability.online, true);

  // A new reading replaces the latest value; the device going away flips availability.
  const later = Date.now();
  await publish(climate, 'climate/sensor/temperature/state', '21.9');
  assertSensor(t, await waitForState(alice.client, roomId, 'org.hearth.sensor', 'temperature', (c) => c.value === '21.9'), { sensor: 'temperature', value: '21.9', unit: '°C', device_class: 'temperature' }, later);
  await publish(climate, 'climate/status', 'offline', { retain: true });
  await waitForState(alice.client, roomId, 'org.hearth.availability', '', (c) => c.online === false);
  await publish(climate, 'climate/status', 'online', { retain: true });
  await waitForState(alice.client, roomId, 'org.hearth.availability', '', (c) => c.online === true);
});
