/**
 * Issue 10 finding 2: a device's identity is its MQTT login. Against the running gateway, with
 * mosquitto_pub/mosquitto_sub as the devices: one device announcing itself with another device's
 * Home Assistant identifiers is refused (not routed, not retained, logged), and the owner's room,
 * values and history stay its own; a Matrix user commands a device over MQTT only as far as the
 * device room's power levels let them.
 */
import test from 'ava';
import { silenceSdk } from './helpers/sdk.js';
import { startMqttGateway, type DeviceCredentials, type MqttGateway } from './mqtt-helpers/gateway.js';
import { MosquittoSub, publish, type BrokerAddress } from './mqtt-helpers/mosquitto.js';
import { joinDeviceRoom, roomState, startPerson, stateContent, telemetry, waitForState, type Person } from './mqtt-helpers/matrix.js';

silenceSdk();

let gateway: MqttGateway;
let alice: Person;
let bob: Person;
const devices: Record<string, DeviceCredentials> = {};

test.before(async () => {
  gateway = await startMqttGateway();
  const [a, b] = await Promise.all([
    startPerson(gateway, 'alice', 'alice password', { admin: true }),
    startPerson(gateway, 'bob', 'bob password'),
    ...['garden', 'intruder', 'plug', 'porch', 'squatter'].map(async (name) => (devices[name] = await gateway.addDevice(name))),
  ]);
  alice = a as Person;
  bob = b as Person;
});

test.afterEach.always((t) => {
  if (!t.passed) t.log(gateway.server.output());
});

test.after.always(async () => {
  alice?.client.stopClient();
  bob?.client.stopClient();
  await gateway?.stop();
});

const as = (name: string): BrokerAddress => ({ port: gateway.server.mqttPort, username: devices[name]!.username, password: devices[name]!.password });
const asUser = (person: Person): BrokerAddress => ({ port: gateway.server.mqttPort, username: person.userId, password: person.accessToken });

const discovery = (ids: string, name: string, stateTopic: string) =>
  JSON.stringify({ name: 'Temperature', stat_t: stateTopic, unit_of_meas: '°C', dev_cla: 'temperature', val_tpl: '{{ value_json.temperature }}', dev: { ids, name } });

test.serial('a device announcing itself with another device\'s identifiers is refused; the owner\'s room, values and history are intact', async (t) => {
  const garden = as('garden');
  const intruder = as('intruder');
  await publish(garden, 'homeassistant/sensor/garden/temperature/config', discovery('garden01', 'Garden sensor', 'garden/state'), { retain: true });
  await publish(garden, 'garden/state', '{"temperature": 21}');
  const roomId = await joinDeviceRoom(alice.client, `@ha.garden01:${gateway.server.serverName}`);
  await waitForState(alice.client, roomId, 'org.hearth.sensor', 'temperature', (c) => c.value === 21);
  const before = await roomState(gateway.server.baseUrl, alice.accessToken, roomId);

  // The forgery: the garden's identifiers, a new name, and the intruder's own topic as state topic.
  await publish(intruder, 'homeassistant/sensor/intruder/temperature/config', discovery('garden01', 'Hacked', 'intruder/state'), { retain: true });
  await publish(intruder, 'intruder/state', '{"temperature": 99}');
  await publish(intruder, 'intruder/state', '{"temperature": 98}');
  // The owner reports on: its value, not the intruder's, is the room's.
  await publish(garden, 'garden/state', '{"temperature": 22}');
  await waitForState(alice.client, roomId, 'org.hearth.sensor', 'temperature', (c) => c.value === 22);

  const after = await roomState(gateway.server.baseUrl, alice.accessToken, roomId);
  const withoutTemperature = (state: typeof before) => state.filter((e) => !(e.type === 'org.hearth.sensor' && e.state_key === 'temperature'));
  t.deepEqual(withoutTemperature(after), withoutTemperature(before), 'name, device and power levels unchanged');
  t.deepEqual(after.find((e) => e.type === 'm.room.name')?.content, { name: 'Garden sensor' });
  t.like(stateContent(alice.client, roomId, 'org.hearth.device'), { key: 'ha.garden01', name: 'Garden sensor' });
  const history = await telemetry(gateway.server.baseUrl, alice.accessToken, roomId, 'temperature', { resolution: 'raw' });
  t.is(history.status, 200);
  t.deepEqual(history.body.points.map((p: { value: number }) => p.value), [21, 22], 'the intruder wrote nothing into the history');

  // The refused discovery was neither routed nor retained: a late subscriber gets the garden's
  // config, then the marker the garden retained after it (retained messages are sent in order).
  await publish(garden, 'garden/marker', 'end', { retain: true });
  const late = new MosquittoSub(asUser(alice), ['homeassistant/sensor/+/temperature/config', 'garden/marker']);
  t.teardown(() => late.stop());
  await late.next((m) => m.topic === 'garden/marker', 'the marker');
  t.deepEqual(late.messages.map((m) => m.topic), ['homeassistant/sensor/garden/temperature/config', 'garden/marker']);
  t.regex(late.messages[0]!.payload, /Garden sensor/);
  t.regex(gateway.server.output(), /mqtt message for a device another login owns refused/);
});

test.serial('a Matrix user commands a device over MQTT only with the power its room requires; others are dropped', async (t) => {
  const plug = as('plug');
  const listener = new MosquittoSub(plug, ['cmnd/plug/#']);
  t.teardown(() => listener.stop());
  await listener.subscribed();
  await publish(plug, 'tele/plug/STATE', '{"POWER":"OFF","UptimeSec":10}');
  const roomId = await joinDeviceRoom(alice.client, `@tasmota.plug:${gateway.server.serverName}`);
  await waitForState(alice.client, roomId, 'org.hearth.sensor', 'power', (c) => c.value === false);

  // Bob is a user of the gateway but not in the plug's room; the intruder device is not a user at all.
  await publish(asUser(bob), 'cmnd/plug/POWER', 'ON');
  await publish(as('intruder'), 'cmnd/plug/POWER', 'ON');
  // Alice is an owner (power 50, what org.hearth.command needs); her retained flag is cleared.
  await publish(asUser(alice), 'cmnd/plug/POWER', 'TOGGLE', { retain: true });
  // Not a command topic the plug announced: dropped even for Alice.
  await publish(asUser(alice), 'cmnd/plug/Backlog', 'Reset 1');
  await publish(asUser(alice), 'cmnd/plug/POWER', 'OFF');
  await listener.next((m) => m.payload === 'OFF', 'Alice\'s second command');
  t.deepEqual(listener.messages.map((m) => [m.topic, m.payload, m.retained]), [
    ['cmnd/plug/POWER', 'TOGGLE', false],
    ['cmnd/plug/POWER', 'OFF', false],
  ]);
});

test.serial('a login that squatted a device\'s identifiers holds them until `hearth device remove` releases them', async (t) => {
  // The squatter announces the porch sensor's identifiers before the porch sensor ever connects.
  await publish(as('squatter'), 'homeassistant/sensor/squatter/temperature/config', discovery('porch01', 'Squatted', 'squatter/state'));
  const roomId = await joinDeviceRoom(alice.client, `@ha.porch01:${gateway.server.serverName}`);
  t.like(stateContent(alice.client, roomId, 'org.hearth.device'), { name: 'Squatted' });
  // The real sensor is refused while the squatter owns the device.
  await publish(as('porch'), 'homeassistant/sensor/porch/temperature/config', discovery('porch01', 'Porch sensor', 'porch/state'));
  await publish(as('porch'), 'porch/state', '{"temperature": 5}');

  await gateway.removeDevice('squatter');
  // Now the porch sensor's announcement claims the device, renames it and binds its state topic.
  await publish(as('porch'), 'homeassistant/sensor/porch/temperature/config', discovery('porch01', 'Porch sensor', 'porch/state'));
  await publish(as('porch'), 'porch/state', '{"temperature": 6}');
  await waitForState(alice.client, roomId, 'org.hearth.device', '', (c) => c.name === 'Porch sensor');
  await waitForState(alice.client, roomId, 'org.hearth.sensor', 'temperature', (c) => c.value === 6);
  const history = await telemetry(gateway.server.baseUrl, alice.accessToken, roomId, 'temperature', { resolution: 'raw' });
  t.deepEqual(history.body.points.map((p: { value: number }) => p.value), [6], 'the refused reading before the release is not there');
});
