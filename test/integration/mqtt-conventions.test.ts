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
import { request } from './helpers/http.js';
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
  alice.client.on(sdk.ClientEvent.Sync, (state, _prev, data) => syncLog.push(`${state} ${data?.error?.message ?? ''}`));
});
const syncLog: string[] = [];

test.afterEach.always((t) => {
  if (!t.passed) t.log(gateway.server.output(), syncLog.filter((l) => !l.startsWith('SYNCING')));
});

test.after.always(async () => {
  for (const sub of subs) await sub.stop();
  // The gateway first: a stopped client's abandoned /sync long-poll would hold its shutdown.
  await gateway?.stop();
  alice?.client.stopClient();
  bob?.client.stopClient();
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

// ---- 2. Zigbee2MQTT, Homie 5, Tasmota

test.serial('Zigbee2MQTT: retained bridge/devices with exposes, availability and a state message -> a room with the plug', async (t) => {
  const z2m = as('zigbee2mqtt');
  const before = Date.now();
  await publish(z2m, 'zigbee2mqtt/bridge/devices', JSON.stringify([
    { ieee_address: '0x00124b0022ee2b39', type: 'Coordinator', network_address: 0, friendly_name: 'Coordinator', supported: true, interview_completed: true },
    {
      ieee_address: '0x00158d0004a6c1f2', type: 'Router', network_address: 41373, supported: true, friendly_name: 'kitchen/plug', disabled: false,
      software_build_id: '09-06-2019', model_id: 'lumi.plug.maeu01', manufacturer: 'LUMI', power_source: 'Mains (single phase)', interview_completed: true,
      definition: {
        model: 'SP-EUC01', vendor: 'Aqara', description: 'Smart plug EU', supports_ota: true,
        exposes: [
          { type: 'switch', features: [{ type: 'binary', name: 'state', label: 'State', property: 'state', access: 7, value_on: 'ON', value_off: 'OFF', value_toggle: 'TOGGLE' }] },
          { type: 'numeric', name: 'power', label: 'Power', property: 'power', access: 5, unit: 'W', description: 'Instantaneous measured power' },
          { type: 'numeric', name: 'energy', label: 'Energy', property: 'energy', access: 5, unit: 'kWh', description: 'Sum of consumed energy' },
          { type: 'numeric', name: 'linkquality', label: 'Linkquality', property: 'linkquality', access: 1, unit: 'lqi', value_min: 0, value_max: 255 },
        ],
      },
    },
  ]), { retain: true });
  await publish(z2m, 'zigbee2mqtt/kitchen/plug/availability', '{"state":"online"}', { retain: true });
  await publish(z2m, 'zigbee2mqtt/kitchen/plug', JSON.stringify({ state: 'OFF', power: 0, energy: 1.42, linkquality: 120, update: { state: 'idle' } }));

  const roomId = await joinDeviceRoom(alice.client, userId('z2m.kitchen_plug'));
  rooms['z2m.kitchen_plug'] = roomId;
  t.deepEqual(stateContent(alice.client, roomId, 'org.hearth.device'), {
    key: 'z2m.kitchen_plug',
    convention: 'zigbee2mqtt',
    name: 'kitchen/plug',
    model: 'SP-EUC01',
    manufacturer: 'Aqara',
    sw_version: '09-06-2019',
    sensors: {
      state: { name: 'State', kind: 'boolean', settable: true },
      power: { name: 'Power', kind: 'number', unit: 'W', device_class: 'power', settable: false },
      energy: { name: 'Energy', kind: 'number', unit: 'kWh', device_class: 'energy', settable: false },
      linkquality: { name: 'Linkquality', kind: 'number', unit: 'lqi', device_class: 'linkquality', settable: false },
    },
  });
  assertSensor(t, await waitForState(alice.client, roomId, 'org.hearth.sensor', 'state', () => true), { sensor: 'state', value: false }, before);
  assertSensor(t, await waitForState(alice.client, roomId, 'org.hearth.sensor', 'power', () => true), { sensor: 'power', value: 0, unit: 'W', device_class: 'power' }, before);
  assertSensor(t, await waitForState(alice.client, roomId, 'org.hearth.sensor', 'energy', () => true), { sensor: 'energy', value: '1.42', unit: 'kWh', device_class: 'energy' }, before);
  assertSensor(t, await waitForState(alice.client, roomId, 'org.hearth.sensor', 'linkquality', () => true), { sensor: 'linkquality', value: 120, unit: 'lqi', device_class: 'linkquality' }, before);
  t.is(stateContent(alice.client, roomId, 'org.hearth.sensor', 'update'), undefined, 'objects are not scalar sensors');
  t.is((await waitForState(alice.client, roomId, 'org.hearth.availability', '', () => true)).online, true);

  await publish(z2m, 'zigbee2mqtt/kitchen/plug/availability', '{"state":"offline"}', { retain: true });
  await waitForState(alice.client, roomId, 'org.hearth.availability', '', (c) => c.online === false);
});

const BOILER_DESCRIPTION = {
  homie: '5.0',
  version: 7,
  name: 'Boiler',
  nodes: {
    heater: {
      name: 'Heater',
      properties: {
        temperature: { name: 'Water temperature', datatype: 'float', unit: '°C' },
        setpoint: { name: 'Setpoint', datatype: 'float', unit: '°C', settable: true, format: '30:80:0.5' },
        on: { name: 'Burner', datatype: 'boolean', settable: true },
      },
    },
  },
};

test.serial('Homie 5: $state init, $description, property values, $state ready -> a room with the boiler', async (t) => {
  const boiler = as('boiler');
  const before = Date.now();
  await publish(boiler, 'homie/5/boiler/$state', 'init', { retain: true });
  await publish(boiler, 'homie/5/boiler/$description', JSON.stringify(BOILER_DESCRIPTION), { retain: true });
  await publish(boiler, 'homie/5/boiler/heater/temperature', '61.5', { retain: true });
  await publish(boiler, 'homie/5/boiler/heater/setpoint', '60', { retain: true });
  await publish(boiler, 'homie/5/boiler/heater/on', 'false', { retain: true });
  await publish(boiler, 'homie/5/boiler/$state', 'ready', { retain: true });

  const roomId = await joinDeviceRoom(alice.client, userId('homie.boiler'));
  rooms['homie.boiler'] = roomId;
  t.deepEqual(stateContent(alice.client, roomId, 'org.hearth.device'), {
    key: 'homie.boiler',
    convention: 'homie',
    name: 'Boiler',
    sensors: {
      'heater.temperature': { name: 'Water temperature', kind: 'number', unit: '°C', settable: false },
      'heater.setpoint': { name: 'Setpoint', kind: 'number', unit: '°C', settable: true },
      'heater.on': { name: 'Burner', kind: 'boolean', settable: true },
    },
  });
  assertSensor(t, await waitForState(alice.client, roomId, 'org.hearth.sensor', 'heater.temperature', () => true), { sensor: 'heater.temperature', value: '61.5', unit: '°C' }, before);
  assertSensor(t, await waitForState(alice.client, roomId, 'org.hearth.sensor', 'heater.setpoint', () => true), { sensor: 'heater.setpoint', value: 60, unit: '°C' }, before);
  assertSensor(t, await waitForState(alice.client, roomId, 'org.hearth.sensor', 'heater.on', () => true), { sensor: 'heater.on', value: false }, before);
  t.is((await waitForState(alice.client, roomId, 'org.hearth.availability', '', () => true)).online, true);
});

test.serial('Tasmota: LWT, tele STATE and an energy-meter SENSOR -> a room with the plug', async (t) => {
  const plug = as('plug');
  const before = Date.now();
  await publish(plug, 'tele/plug/LWT', 'Online', { retain: true });
  await publish(plug, 'tele/plug/STATE', JSON.stringify({
    Time: '2025-01-02T03:04:05', Uptime: '0T01:02:03', UptimeSec: 3723, Heap: 25, SleepMode: 'Dynamic', Sleep: 50, LoadAvg: 19, MqttCount: 1,
    POWER: 'OFF', Wifi: { AP: 1, SSId: 'home', BSSId: 'AA:BB:CC:DD:EE:FF', Channel: 6, Mode: '11n', RSSI: 78, Signal: -61, LinkCount: 1, Downtime: '0T00:00:05' },
  }));
  await publish(plug, 'tele/plug/SENSOR', JSON.stringify({
    Time: '2025-01-02T03:04:05',
    ENERGY: { TotalStartTime: '2024-11-01T10:00:00', Total: 12.345, Yesterday: 0.456, Today: 0.123, Power: 0, ApparentPower: 0, ReactivePower: 0, Factor: 0.0, Voltage: 231, Current: 0.0 },
  }));

  const roomId = await joinDeviceRoom(alice.client, userId('tasmota.plug'));
  rooms['tasmota.plug'] = roomId;
  const device = await waitForState(alice.client, roomId, 'org.hearth.device', '', (c) => 'energy.total' in (c.sensors as object));
  t.deepEqual(device, {
    key: 'tasmota.plug',
    convention: 'tasmota',
    name: 'plug',
    sensors: {
      power: { name: 'Power', kind: 'boolean', device_class: 'switch', settable: true },
      uptime: { name: 'Uptime', kind: 'number', unit: 's', device_class: 'duration', settable: false },
      'wifi.signal': { name: 'Wi-Fi signal', kind: 'number', unit: 'dBm', device_class: 'signal_strength', settable: false },
      'wifi.rssi': { name: 'Wi-Fi quality', kind: 'number', unit: '%', settable: false },
      'energy.totalstarttime': { name: 'ENERGY TotalStartTime', kind: 'string', settable: false },
      'energy.total': { name: 'ENERGY Total', kind: 'number', unit: 'kWh', device_class: 'energy', settable: false },
      'energy.yesterday': { name: 'ENERGY Yesterday', kind: 'number', unit: 'kWh', device_class: 'energy', settable: false },
      'energy.today': { name: 'ENERGY Today', kind: 'number', unit: 'kWh', device_class: 'energy', settable: false },
      'energy.power': { name: 'ENERGY Power', kind: 'number', unit: 'W', device_class: 'power', settable: false },
      'energy.apparentpower': { name: 'ENERGY ApparentPower', kind: 'number', unit: 'VA', device_class: 'apparent_power', settable: false },
      'energy.reactivepower': { name: 'ENERGY ReactivePower', kind: 'number', unit: 'var', device_class: 'reactive_power', settable: false },
      'energy.factor': { name: 'ENERGY Factor', kind: 'number', device_class: 'power_factor', settable: false },
      'energy.voltage': { name: 'ENERGY Voltage', kind: 'number', unit: 'V', device_class: 'voltage', settable: false },
      'energy.current': { name: 'ENERGY Current', kind: 'number', unit: 'A', device_class: 'current', settable: false },
    },
  });
  assertSensor(t, await waitForState(alice.client, roomId, 'org.hearth.sensor', 'power', () => true), { sensor: 'power', value: false, device_class: 'switch' }, before);
  assertSensor(t, await waitForState(alice.client, roomId, 'org.hearth.sensor', 'uptime', () => true), { sensor: 'uptime', value: 3723, unit: 's', device_class: 'duration' }, before);
  assertSensor(t, await waitForState(alice.client, roomId, 'org.hearth.sensor', 'wifi.signal', () => true), { sensor: 'wifi.signal', value: -61, unit: 'dBm', device_class: 'signal_strength' }, before);
  assertSensor(t, await waitForState(alice.client, roomId, 'org.hearth.sensor', 'energy.total', () => true), { sensor: 'energy.total', value: '12.345', unit: 'kWh', device_class: 'energy' }, before);
  assertSensor(t, await waitForState(alice.client, roomId, 'org.hearth.sensor', 'energy.voltage', () => true), { sensor: 'energy.voltage', value: 231, unit: 'V', device_class: 'voltage' }, before);
  assertSensor(t, await waitForState(alice.client, roomId, 'org.hearth.sensor', 'energy.totalstarttime', () => true), { sensor: 'energy.totalstarttime', value: '2024-11-01T10:00:00' }, before);
  t.is(stateContent(alice.client, roomId, 'org.hearth.sensor', 'time'), undefined, 'Time describes the message, it is no sensor');
  t.is((await waitForState(alice.client, roomId, 'org.hearth.availability', '', () => true)).online, true);
});

// ---- 3. Commands from Matrix to the devices, and their results

/** Waits for the command's `org.hearth.command.result` and `m.notice`, both referencing it. */
async function commandOutcome(roomId: string, commandEventId: string) {
  const refersToCommand = (e: sdk.MatrixEvent) => (e.getContent()['m.relates_to'] as { event_id?: string } | undefined)?.event_id === commandEventId;
  const result = await waitForTimelineEvent(alice.client, roomId, (e) => e.getType() === 'org.hearth.command.result' && refersToCommand(e), `the result of ${commandEventId}`);
  const notice = await waitForTimelineEvent(alice.client, roomId, (e) => e.getType() === 'm.room.message' && refersToCommand(e), `the notice about ${commandEventId}`);
  return { result, notice };
}

test.serial('commands: an org.hearth.command for a Home Assistant switch -> ON on its command_topic; the state reply settles it', async (t) => {
  const roomId = rooms['ha.climate-3c71bf']!;
  const device = new MosquittoSub(as('climate'), ['climate/switch/+/command']);
  subs.push(device);
  await device.subscribed();

  const { event_id } = await alice.client.sendEvent(roomId, 'org.hearth.command', { sensor: 'relay', value: true });
  const command = await device.next((m) => m.topic === 'climate/switch/relay/command', 'the relay command');
  t.deepEqual(command, { topic: 'climate/switch/relay/command', payload: 'ON', qos: 1, retained: false });

  // The device switches and reports its state, as ESPHome does.
  await publish(as('climate'), 'climate/switch/relay/state', 'ON', { retain: true });
  const { result, notice } = await commandOutcome(roomId, event_id);
  t.is(result.getSender(), userId('ha.climate-3c71bf'));
  t.deepEqual(result.getContent(), { 'm.relates_to': { rel_type: 'm.reference', event_id }, sensor: 'relay', value: true, status: 'ok' });
  t.like(notice.getContent(), { msgtype: 'm.notice', body: 'relay is now true' });
  await waitForState(alice.client, roomId, 'org.hearth.sensor', 'relay', (c) => c.value === true);
  t.is(device.messages.length, 1, 'published once');
});

test.serial('commands: "!set state on" in the Zigbee2MQTT room -> {"state":"ON"} on /set; the state message settles it', async (t) => {
  const roomId = rooms['z2m.kitchen_plug']!;
  const bridge = new MosquittoSub(as('zigbee2mqtt'), ['zigbee2mqtt/+/+/set']);
  subs.push(bridge);
  await bridge.subscribed();

  const { event_id } = await alice.client.sendTextMessage(roomId, '!set state on');
  const command = await bridge.next((m) => m.topic === 'zigbee2mqtt/kitchen/plug/set', 'the /set command');
  t.deepEqual(command, { topic: 'zigbee2mqtt/kitchen/plug/set', payload: '{"state":"ON"}', qos: 1, retained: false });

  await publish(as('zigbee2mqtt'), 'zigbee2mqtt/kitchen/plug', JSON.stringify({ state: 'ON', power: 12, energy: 1.42, linkquality: 116 }));
  const { result } = await commandOutcome(roomId, event_id);
  t.deepEqual(result.getContent(), { 'm.relates_to': { rel_type: 'm.reference', event_id }, sensor: 'state', value: true, status: 'ok' });
  await waitForState(alice.client, roomId, 'org.hearth.sensor', 'power', (c) => c.value === 12);
});

test.serial('commands: "!set power on" for Tasmota -> ON on cmnd/plug/POWER; stat/plug/RESULT settles it', async (t) => {
  const roomId = rooms['tasmota.plug']!;
  const plug = new MosquittoSub(as('plug'), ['cmnd/plug/#']);
  subs.push(plug);
  await plug.subscribed();

  const { event_id } = await alice.client.sendTextMessage(roomId, '!set power on');
  t.deepEqual(await plug.next((m) => m.topic === 'cmnd/plug/POWER', 'the POWER command'), { topic: 'cmnd/plug/POWER', payload: 'ON', qos: 1, retained: false });
  await publish(as('plug'), 'stat/plug/RESULT', '{"POWER":"ON"}');
  const { result } = await commandOutcome(roomId, event_id);
  t.deepEqual(result.getContent(), { 'm.relates_to': { rel_type: 'm.reference', event_id }, sensor: 'power', value: true, status: 'ok' });
});

test.serial('commands: Homie /set with the value as text; a device that never answers gets a timeout result', async (t) => {
  const roomId = rooms['homie.boiler']!;
  const boiler = new MosquittoSub(as('boiler'), ['homie/5/boiler/+/+/set']);
  subs.push(boiler);
  await boiler.subscribed();

  const setpoint = await alice.client.sendEvent(roomId, 'org.hearth.command', { sensor: 'heater.setpoint', value: '55.5' });
  t.deepEqual(await boiler.next((m) => m.topic === 'homie/5/boiler/heater/setpoint/set', 'the setpoint command'), {
    topic: 'homie/5/boiler/heater/setpoint/set', payload: '55.5', qos: 1, retained: false,
  });
  await publish(as('boiler'), 'homie/5/boiler/heater/setpoint', '55.5', { retain: true });
  const settled = await commandOutcome(roomId, setpoint.event_id);
  t.deepEqual(settled.result.getContent(), { 'm.relates_to': { rel_type: 'm.reference', event_id: setpoint.event_id }, sensor: 'heater.setpoint', value: '55.5', status: 'ok' });

  // The burner command is published but the device stays silent: after command_timeout_seconds (3).
  const burner = await alice.client.sendTextMessage(roomId, '!set heater.on yes');
  t.like(await boiler.next((m) => m.topic === 'homie/5/boiler/heater/on/set', 'the burner command'), { payload: 'true', retained: false });
  const timedOut = await commandOutcome(roomId, burner.event_id);
  t.like(timedOut.result.getContent(), { sensor: 'heater.on', value: true, status: 'timeout' });
  t.is(timedOut.notice.getContent().body, 'No answer from Boiler for heater.on within 3 s.');
});

test.serial('commands: refused without power, for an unknown or read-only sensor, with a notice saying why; nothing is published', async (t) => {
  const roomId = rooms['tasmota.plug']!;
  const plug = new MosquittoSub(as('plug'), ['cmnd/plug/#']);
  subs.push(plug);
  await plug.subscribed();

  bob = await startPerson(gateway, 'bob', 'bob password');
  await alice.client.invite(roomId, bob.userId);
  await waitFor(() => bob!.client.getRoom(roomId)?.getMyMembership() === 'invite', 'bob invited');
  await bob.client.joinRoom(roomId);
  await waitFor(() => alice.client.getRoom(roomId)?.getMember(bob!.userId)?.membership === 'join', 'bob joined');

  // A command event needs power level 50 at the room level: the server itself refuses it (sent over
  // plain HTTP: the SDK would keep the refused event queued and hold bob's next messages behind it).
  const forbidden = await request(gateway.server.baseUrl, 'PUT', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/org.hearth.command/bob-1`, {
    token: bob.accessToken,
    json: { sensor: 'power', value: false },
  });
  t.is(forbidden.status, 403);
  t.is(forbidden.body?.errcode, 'M_FORBIDDEN');
  // A chat message is allowed, so the bridge checks the power level and answers.
  const before = notices(alice.client, roomId).length;
  await bob.client.sendTextMessage(roomId, '!set power off');
  await alice.client.sendTextMessage(roomId, '!set nosuch 1');
  await alice.client.sendTextMessage(roomId, '!set uptime 5');
  await alice.client.sendTextMessage(roomId, '!set power maybe');
  await waitFor(() => notices(alice.client, roomId).length >= before + 4, 'four refusals');
  const bodies = notices(alice.client, roomId).slice(before).map((e) => e.getContent().body);
  t.deepEqual(bodies, [
    `Refused: commands need power level 50, ${bob.userId} has 0.`,
    'Refused: unknown sensor "nosuch". Settable: power.',
    'Refused: "uptime" is read-only.',
    'Refused: "maybe" is not a valid boolean for "power".',
  ]);
  t.true(notices(alice.client, roomId).slice(before).every((e) => e.getSender() === userId('tasmota.plug')));
  // A last good command proves the listener was there all along: it is the only message it got.
  await alice.client.sendTextMessage(roomId, '!set power off');
  await plug.next((m) => m.payload === 'OFF', 'the good command');
  t.deepEqual(plug.messages.map((m) => `${m.topic} ${m.payload}`), ['cmnd/plug/POWER OFF']);
});

// ---- 7. MQTT over WebSocket

test.serial('MQTT over WebSocket: mqtt.js on ws://.../_hearth/mqtt with device credentials; JSON and CBOR readings reach the room', async (t) => {
  const client = await mqtt.connectAsync(`ws://127.0.0.1:${gateway.server.port}/_hearth/mqtt`, {
    username: devices.balcony!.username,
    password: devices.balcony!.password,
    clientId: 'balcony-ws',
    reconnectPeriod: 0,
  });
  try {
    await client.publishAsync('homeassistant/sensor/balcony/illuminance/config', JSON.stringify({
      '~': 'balcony', name: 'Illuminance', uniq_id: 'balcony_lux', stat_t: '~/lux', unit_of_meas: 'lx', dev_cla: 'illuminance',
      dev: { ids: ['balcony-lux'], name: 'Balcony light sensor', mdl: 'BH1750', mf: 'DIY' },
    }), { qos: 1, retain: true });
    await client.publishAsync('balcony/lux', '1234', { qos: 1 });
    const roomId = await joinDeviceRoom(alice.client, userId('ha.balcony-lux'));
    t.like(stateContent(alice.client, roomId, 'org.hearth.device'), { name: 'Balcony light sensor', model: 'BH1750', manufacturer: 'DIY' });
    t.like(await waitForState(alice.client, roomId, 'org.hearth.sensor', 'illuminance', () => true), { sensor: 'illuminance', value: 1234, unit: 'lx' });

    // CBOR (RFC 8949): a float32 item, 0xfa 0x44bb9000 = 1500.5.
    await client.publishAsync('balcony/lux', Buffer.from([0xfa, 0x44, 0xbb, 0x90, 0x00]), { qos: 1 });
    t.like(await waitForState(alice.client, roomId, 'org.hearth.sensor', 'illuminance', (c) => c.value !== 1234), { value: '1500.5', unit: 'lx' });
  } finally {
    await client.endAsync();
  }
});
