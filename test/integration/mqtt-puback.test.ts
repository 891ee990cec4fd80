/**
 * Issue 14: a lone device's QoS 1 reading is acknowledged as soon as it is stored, not when the
 * telemetry group commit's timer fires. The real gateway runs with a one-minute flush interval and
 * the adaptive commit: five readings published one after the other, each waiting for its PUBACK
 * (one in flight, like mosquitto_pub or an ESP firmware), would take five minutes on the timer -
 * more than the test's timeout - so their acknowledgements alone show the adaptive path wrote them.
 * What was acknowledged is in the journal file (one entry per reading) and in the history.
 */
import test from 'ava';
import mqtt from 'mqtt';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { silenceSdk } from './helpers/sdk.js';
import { FAST_BRIDGE_YAML, startMqttGateway, type DeviceCredentials, type MqttGateway } from './mqtt-helpers/gateway.js';
import { joinDeviceRoom, startPerson, telemetry, type Person } from './mqtt-helpers/matrix.js';
import { readRecords } from '../../src/telemetry/journal-file.js';
import { decodeJournal } from '../../src/telemetry/chunk-codec.js';

silenceSdk();

let gateway: MqttGateway;
let alice: Person;
let plug: DeviceCredentials;

const ONE_MINUTE_FLUSH_YAML = `${FAST_BRIDGE_YAML}telemetry:
  flush_interval_ms: 60000
  commit:
    mode: adaptive
    min_interval_ms: 50
`;

test.before(async () => {
  gateway = await startMqttGateway({ configYaml: ONE_MINUTE_FLUSH_YAML });
  const [person, credentials] = await Promise.all([startPerson(gateway, 'alice', 'alice password', { admin: true }), gateway.addDevice('plug')]);
  alice = person;
  plug = credentials;
});

test.afterEach.always((t) => {
  if (!t.passed) t.log(gateway.server.output());
});

test.after.always(async () => {
  await gateway?.stop();
  alice?.client.stopClient();
});

test.serial('QoS 1 readings of a lone device are acknowledged without waiting for the flush interval, and stored', async (t) => {
  const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${gateway.server.mqttPort}`, {
    username: plug.username,
    password: plug.password,
    clientId: 'plug-puback',
    reconnectPeriod: 0,
  });
  const voltages = [230, 231, 229, 232, 233];
  const before = Date.now();
  try {
    for (const voltage of voltages) {
      // publishAsync at QoS 1 resolves on the PUBACK (mqtt.js calls back once the packet leaves its outgoing store).
      await client.publishAsync('tele/plug/SENSOR', JSON.stringify({ ENERGY: { Voltage: voltage } }), { qos: 1 });
    }
  } finally {
    await client.endAsync();
  }

  // Acknowledged means written: the journal file already holds every reading.
  const { records } = readRecords(readFileSync(join(gateway.dataDir, 'telemetry.journal')));
  const journalled = records.flatMap((r) => decodeJournal(r.ms, r.payload).values);
  t.deepEqual(journalled.filter((v) => typeof v === 'number' && voltages.includes(v)), voltages);

  const roomId = await joinDeviceRoom(alice.client, `@tasmota.plug:${gateway.server.serverName}`);
  const history = await telemetry(gateway.server.baseUrl, alice.accessToken, roomId, 'energy.voltage', { resolution: 'raw', from: String(before - 1000) });
  t.is(history.status, 200, JSON.stringify(history.body));
  t.deepEqual(history.body.points.map((p: { value: number }) => p.value), voltages);
});
