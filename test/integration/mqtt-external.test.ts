/**
 * Issue 3 "Proof", external-broker mode: a real Mosquitto (anonymous, loopback), the gateway started
 * with HEARTH_MQTT_EXTERNAL_URL as its client, a Zigbee2MQTT device published to Mosquitto with
 * `mosquitto_pub`. The room appears with its state, and a command from Matrix reaches a
 * `mosquitto_sub` on Mosquitto.
 */
import test from 'ava';
import * as sdk from 'matrix-js-sdk';
import { silenceSdk } from './helpers/sdk.js';
import { startMqttGateway, type MqttGateway } from './mqtt-helpers/gateway.js';
import { MosquittoSub, publish, startMosquitto, type BrokerAddress, type MosquittoBroker } from './mqtt-helpers/mosquitto.js';
import { joinDeviceRoom, startPerson, stateContent, waitForState, waitForTimelineEvent, type Person } from './mqtt-helpers/matrix.js';

silenceSdk();

let mosquitto: MosquittoBroker;
let gateway: MqttGateway;
let alice: Person;

test.before(async () => {
  mosquitto = await startMosquitto();
  gateway = await startMqttGateway({ env: { HEARTH_MQTT_EXTERNAL_URL: `mqtt://127.0.0.1:${mosquitto.port}` } });
  alice = await startPerson(gateway, 'alice', 'alice password', { admin: true });
});

test.afterEach.always((t) => {
  if (!t.passed) t.log(gateway.server.output());
});

test.after.always(async () => {
  await gateway?.stop();
  alice?.client.stopClient();
  await mosquitto?.stop();
});

const broker = (): BrokerAddress => ({ port: mosquitto.port });

test.serial('a Zigbee2MQTT device on Mosquitto becomes a room; a command reaches Mosquitto and the reply settles it', async (t) => {
  const before = Date.now();
  await publish(broker(), 'zigbee2mqtt/bridge/devices', JSON.stringify([
    {
      ieee_address: '0x0017880104e45517', type: 'EndDevice', friendly_name: 'garage_sensor', supported: true, software_build_id: '6.1.1.27575',
      definition: {
        model: 'WSDCGQ11LM', vendor: 'Aqara', description: 'Temperature, humidity and pressure sensor',
        exposes: [
          { type: 'numeric', name: 'temperature', label: 'Temperature', property: 'temperature', access: 1, unit: '°C' },
          { type: 'numeric', name: 'humidity', label: 'Humidity', property: 'humidity', access: 1, unit: '%' },
          { type: 'numeric', name: 'battery', label: 'Battery', property: 'battery', access: 1, unit: '%' },
        ],
      },
    },
    {
      ieee_address: '0x00158d0004a6c1f3', type: 'Router', friendly_name: 'garage_door_relay', supported: true,
      definition: {
        model: 'LLKZMK11LM', vendor: 'Aqara', description: 'Two channel relay',
        exposes: [{ type: 'switch', endpoint: 'l1', features: [{ type: 'binary', name: 'state', label: 'State', property: 'state', access: 7, value_on: 'ON', value_off: 'OFF' }] }],
      },
    },
  ]), { retain: true });
  await publish(broker(), 'zigbee2mqtt/garage_sensor', JSON.stringify({ temperature: 8, humidity: 71, battery: 97, voltage: 3005, linkquality: 54 }));
  await publish(broker(), 'zigbee2mqtt/garage_sensor/availability', '{"state":"online"}', { retain: true });
  await publish(broker(), 'zigbee2mqtt/garage_door_relay', JSON.stringify({ state: 'OFF', linkquality: 90 }));

  const sensorRoom = await joinDeviceRoom(alice.client, `@z2m.garage_sensor:${gateway.server.serverName}`);
  t.like(stateContent(alice.client, sensorRoom, 'org.hearth.device'), {
    key: 'z2m.garage_sensor',
    convention: 'zigbee2mqtt',
    name: 'garage_sensor',
    model: 'WSDCGQ11LM',
    manufacturer: 'Aqara',
    sw_version: '6.1.1.27575',
    sensors: {
      temperature: { name: 'Temperature', kind: 'number', unit: '°C', device_class: 'temperature', settable: false },
      humidity: { name: 'Humidity', kind: 'number', unit: '%', device_class: 'humidity', settable: false },
      battery: { name: 'Battery', kind: 'number', unit: '%', device_class: 'battery', settable: false },
    },
  });
  const temperature = await waitForState(alice.client, sensorRoom, 'org.hearth.sensor', 'temperature', () => true);
  t.like(temperature, { sensor: 'temperature', value: 8, unit: '°C', device_class: 'temperature' });
  t.true((temperature.ts as number) >= before);
  t.like(await waitForState(alice.client, sensorRoom, 'org.hearth.sensor', 'battery', () => true), { value: 97, unit: '%' });
  t.is((await waitForState(alice.client, sensorRoom, 'org.hearth.availability', '', () => true)).online, true);

  // The relay, commanded from Matrix: the /set goes to Mosquitto, where the Z2M daemon listens.
  const relayRoom = await joinDeviceRoom(alice.client, `@z2m.garage_door_relay:${gateway.server.serverName}`);
  const daemon = new MosquittoSub(broker(), ['zigbee2mqtt/+/set']);
  await daemon.subscribed();
  try {
    const { event_id } = await alice.client.sendEvent(relayRoom, 'org.hearth.command', { sensor: 'state', value: true });
    t.deepEqual(await daemon.next((m) => m.topic === 'zigbee2mqtt/garage_door_relay/set', 'the /set on Mosquitto'), {
      topic: 'zigbee2mqtt/garage_door_relay/set', payload: '{"state":"ON"}', qos: 1, retained: false,
    });
    await publish(broker(), 'zigbee2mqtt/garage_door_relay', JSON.stringify({ state: 'ON', linkquality: 90 }));
    const result = await waitForTimelineEvent(
      alice.client,
      relayRoom,
      (e: sdk.MatrixEvent) => e.getType() === 'org.hearth.command.result' && (e.getContent()['m.relates_to'] as { event_id?: string } | undefined)?.event_id === event_id,
      'the command result',
    );
    t.like(result.getContent(), { sensor: 'state', value: true, status: 'ok' });
    await waitForState(alice.client, relayRoom, 'org.hearth.sensor', 'state', (c) => c.value === true);
  } finally {
    await daemon.stop();
  }
});
