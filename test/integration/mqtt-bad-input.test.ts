/**
 * Issue 3 "Proof", bad input: malformed JSON and CBOR, unknown topics, an oversized payload, a device
 * publishing to another device's topics, wrong passwords, and a flood from one device. The gateway
 * keeps running, the device room's state is untouched by what was refused, and good readings still
 * flow afterwards. Default throttle (5 s) on purpose: the flood must not become thousands of events.
 */
import test from 'ava';
import mqtt from 'mqtt';
import { silenceSdk } from './helpers/sdk.js';
import { startMqttGateway, type DeviceCredentials, type MqttGateway } from './mqtt-helpers/gateway.js';
import { MosquittoSub, mosquittoPub, publish, type BrokerAddress } from './mqtt-helpers/mosquitto.js';
import { joinDeviceRoom, roomState, startPerson, telemetry, waitForState, type Person } from './mqtt-helpers/matrix.js';

silenceSdk();

let gateway: MqttGateway;
let alice: Person;
const devices: Record<string, DeviceCredentials> = {};
let roomId: string;

const CONFIG = `bridge:
  throttle:
    deadband: 0
    min_interval_seconds: 2
    refresh_seconds: 300
`;

test.before(async () => {
  gateway = await startMqttGateway({ configYaml: CONFIG });
  const [person] = await Promise.all([
    startPerson(gateway, 'alice', 'alice password', { admin: true }),
    ...['meter', 'intruder'].map(async (name) => (devices[name] = await gateway.addDevice(name))),
  ]);
  alice = person;
});

test.afterEach.always((t) => {
  if (!t.passed) t.log(gateway.server.output());
});

test.after.always(async () => {
  await gateway?.stop();
  alice?.client.stopClient();
});

const as = (name: string): BrokerAddress => ({ port: gateway.server.mqttPort, username: devices[name]!.username, password: devices[name]!.password });

async function assertAlive(t: import('ava').ExecutionContext, pid: number | undefined) {
  t.is(gateway.server.pid(), pid, 'same process');
  const versions = await fetch(`${gateway.server.baseUrl}/_matrix/client/versions`);
  t.is(versions.status, 200);
}

test.serial('refused and malformed input leaves the gateway running and the room unchanged; good readings still flow', async (t) => {
  const meter = as('meter');
  await publish(meter, 'tele/meter/LWT', 'Online', { retain: true });
  await publish(meter, 'tele/meter/SENSOR', JSON.stringify({ Time: '2025-01-02T03:04:05', ENERGY: { Power: 120, Voltage: 230 } }));
  roomId = await joinDeviceRoom(alice.client, `@tasmota.meter:${gateway.server.serverName}`);
  await waitForState(alice.client, roomId, 'org.hearth.sensor', 'energy.voltage', (c) => c.value === 230);
  const pid = gateway.server.pid();
  const before = await roomState(gateway.server.baseUrl, alice.accessToken, roomId);

  // Malformed JSON and CBOR on the meter's own topics (the bridge counts and drops them).
  await publish(meter, 'tele/meter/SENSOR', '{"ENERGY": {"Power": 999,');
  await publish(meter, 'tele/meter/SENSOR', Buffer.from([0xbf, 0x61, 0x50, 0xff, 0x00, 0x1c]));
  await publish(meter, 'tele/meter/LWT', 'Maybe');
  await publish(meter, 'tele/meter/STATE', '[1,2,3]');
  // Unknown topics the device may publish to.
  await publish(meter, 'meter/debug/heap', '23456');
  await publish(meter, 'tele/meter/INFO1', '{"Module":"Sonoff POW R2"}');
  // Someone else's topics: the ACL drops them (acknowledged, MQTT 3.1.1 has no refusal for PUBLISH).
  await publish(as('intruder'), 'tele/meter/SENSOR', JSON.stringify({ ENERGY: { Power: 5000, Voltage: 110 } }));
  await publish(as('intruder'), 'tele/meter/LWT', 'Offline', { retain: true });
  await publish(as('intruder'), 'cmnd/meter/POWER', 'OFF');
  // ... and it may not listen to them either: the SUBACK refuses the filter.
  const eavesdropper = new MosquittoSub(as('intruder'), ['cmnd/meter/#']);
  await eavesdropper.subscribed();
  await eavesdropper.stop();
  t.regex(eavesdropper.subackLine!, /: 128$/, 'SUBACK return code 0x80');

  // An oversized payload (> max_payload_bytes 65536): the connection is closed.
  const oversized = await mosquittoPub(meter, 'tele/meter/SENSOR', JSON.stringify({ ENERGY: { Power: 1, Pad: 'x'.repeat(70_000) } }));
  t.not(oversized.code, 0, 'mosquitto_pub notices the closed connection');

  // Wrong passwords and anonymous clients are refused at CONNECT.
  const wrong = await mosquittoPub({ ...meter, password: 'not the password' }, 'tele/meter/SENSOR', '{}');
  t.not(wrong.code, 0);
  t.regex(wrong.stderr, /bad user name or password/i);
  const anonymous = await mosquittoPub({ port: gateway.server.mqttPort }, 'tele/meter/SENSOR', '{}');
  t.not(anonymous.code, 0);
  t.regex(anonymous.stderr, /not authori[sz]ed/i);
  const unknownUser = await mosquittoPub({ port: gateway.server.mqttPort, username: 'nobody', password: 'x' }, 'tele/meter/SENSOR', '{}');
  t.not(unknownUser.code, 0);

  // A good reading after all that: when it is in the room, everything before it was handled.
  await publish(meter, 'tele/meter/SENSOR', JSON.stringify({ Time: '2025-01-02T03:05:05', ENERGY: { Power: 121 } }));
  await waitForState(alice.client, roomId, 'org.hearth.sensor', 'energy.power', (c) => c.value === 121);
  await assertAlive(t, pid);
  const after = await roomState(gateway.server.baseUrl, alice.accessToken, roomId);
  const withoutPower = (state: typeof before) => state.filter((e) => !(e.type === 'org.hearth.sensor' && e.state_key === 'energy.power'));
  t.deepEqual(withoutPower(after), withoutPower(before), 'only the good reading changed the room');
  t.false(after.some((e) => e.type === 'org.hearth.sensor' && e.state_key === 'energy.pad'));
  const history = await telemetry(gateway.server.baseUrl, alice.accessToken, roomId, 'energy.power', { resolution: 'raw' });
  t.deepEqual(history.body.points.map((p: { value: number }) => p.value), [120, 121], 'refused readings are not in the history either');
});

test.serial('a flood of thousands of readings from one device: all recorded, few state events, the newest value wins', async (t) => {
  const pid = gateway.server.pid();
  const FLOOD = 3000;
  const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${gateway.server.mqttPort}`, {
    username: devices.meter!.username,
    password: devices.meter!.password,
    clientId: 'meter-flood',
    reconnectPeriod: 0,
  });
  const started = Date.now();
  try {
    // QoS 0 as fast as the socket takes them, then one QoS 1 to know the broker has read them all.
    for (let i = 1; i < FLOOD; i++) client.publish('tele/meter/SENSOR', JSON.stringify({ ENERGY: { Voltage: 1000 + i } }), { qos: 0 });
    await client.publishAsync('tele/meter/SENSOR', JSON.stringify({ ENERGY: { Voltage: 1000 + FLOOD } }), { qos: 1 });
  } finally {
    await client.endAsync();
  }
  // The throttle (min_interval_seconds: 2) defers the burst's end: the newest value wins.
  await waitForState(alice.client, roomId, 'org.hearth.sensor', 'energy.voltage', (c) => c.value === 1000 + FLOOD);
  await assertAlive(t, pid);

  const voltageEvents = alice.client
    .getRoom(roomId)!
    .getLiveTimeline()
    .getEvents()
    .filter((e) => e.getType() === 'org.hearth.sensor' && e.getStateKey() === 'energy.voltage' && e.getTs() >= started);
  t.true(voltageEvents.length <= 4, `${voltageEvents.length} state events for ${FLOOD} readings`);
  const history = await telemetry(gateway.server.baseUrl, alice.accessToken, roomId, 'energy.voltage', { resolution: 'raw', from: String(started) });
  t.is(history.body.points.length, FLOOD, 'every reading is in the history');
  t.is(history.body.points.at(-1).value, 1000 + FLOOD);

  // And a normal reading afterwards still reaches the room.
  await publish(as('meter'), 'tele/meter/SENSOR', JSON.stringify({ ENERGY: { Power: 7 } }));
  await waitForState(alice.client, roomId, 'org.hearth.sensor', 'energy.power', (c) => c.value === 7);
});

test.serial('one payload with 3,000 keys: 64 sensors at most, the rest ignored with one log line; the device keeps working', async (t) => {
  const pid = gateway.server.pid();
  const energy = Object.fromEntries(Array.from({ length: 3000 }, (_, i) => [`K${i}`, i]));
  await publish(as('meter'), 'tele/meter/SENSOR', JSON.stringify({ Time: '2025-01-02T03:06:05', ENERGY: energy }));
  await publish(as('meter'), 'tele/meter/SENSOR', JSON.stringify({ Time: '2025-01-02T03:06:06', ENERGY: { ...energy, Power: 8 } }));
  await waitForState(alice.client, roomId, 'org.hearth.sensor', 'energy.power', (c) => c.value === 8);
  await assertAlive(t, pid);

  const state = await roomState(gateway.server.baseUrl, alice.accessToken, roomId);
  const sensors = state.filter((e) => e.type === 'org.hearth.sensor').map((e) => e.state_key);
  t.is(sensors.length, 64, 'the sensors per device cap (bridge.max_sensors_per_device)');
  t.true(sensors.includes('energy.voltage') && sensors.includes('energy.power'), 'the sensors it had are kept');
  const device = state.find((e) => e.type === 'org.hearth.device')!.content as { sensors: Record<string, unknown> };
  t.is(Object.keys(device.sensors).length, 64);
  t.is((await telemetry(gateway.server.baseUrl, alice.accessToken, roomId, 'energy.k2999', { resolution: 'raw' })).status, 404, 'no history for an ignored key');
  t.is(gateway.server.output().split('more sensors than bridge.max_sensors_per_device').length - 1, 1, 'one log line');
});
