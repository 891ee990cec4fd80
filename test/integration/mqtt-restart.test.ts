/**
 * Issue 3 "Proof": a gateway restart in the middle. Retained messages, a persistent MQTT session with
 * a QoS 1 message queued while its client was away, the device room, and the sensor history all
 * survive `hearth run` being stopped and started again on the same data directory.
 */
import test from 'ava';
import { loginWithSdk, silenceSdk } from './helpers/sdk.js';
import { startMqttGateway, type DeviceCredentials, type MqttGateway } from './mqtt-helpers/gateway.js';
import { MosquittoSub, publish, type BrokerAddress } from './mqtt-helpers/mosquitto.js';
import { joinDeviceRoom, startPerson, stateContent, telemetry, waitForState, type Person } from './mqtt-helpers/matrix.js';

silenceSdk();

let gateway: MqttGateway;
let alice: Person;
let plug: DeviceCredentials;

test.before(async () => {
  gateway = await startMqttGateway();
  const [person, credentials] = await Promise.all([startPerson(gateway, 'alice', 'alice password', { admin: true }), gateway.addDevice('plug')]);
  alice = person;
  plug = credentials;
});

test.afterEach.always((t) => {
  if (!t.passed) t.log(gateway.server.output());
});

test.after.always(async () => {
  // The gateway first: a stopped client's abandoned /sync long-poll would hold its shutdown.
  await gateway?.stop();
  alice?.client.stopClient();
});

const asPlug = (): BrokerAddress => ({ port: gateway.server.mqttPort, username: plug.username, password: plug.password });
/** A Matrix user's access token is also their MQTT password (docs/mqtt.md "Authentication"). */
const asAlice = (): BrokerAddress => ({ port: gateway.server.mqttPort, username: 'alice', password: alice.accessToken });

test.serial('retained messages, a persistent session with a queued QoS 1 message, the room and the history survive a restart', async (t) => {
  // Before: a Tasmota plug with retained availability and a few energy readings.
  await publish(asPlug(), 'tele/plug/LWT', 'Online', { retain: true });
  const readings = [230, 231, 229, 232];
  const before = Date.now();
  for (const voltage of readings) {
    await publish(asPlug(), 'tele/plug/SENSOR', JSON.stringify({ Time: '2025-01-02T03:04:05', ENERGY: { Voltage: voltage } }));
  }
  // Its relay, which announces the command topic cmnd/plug/POWER.
  await publish(asPlug(), 'tele/plug/STATE', JSON.stringify({ POWER: 'OFF' }));
  const roomId = await joinDeviceRoom(alice.client, `@tasmota.plug:${gateway.server.serverName}`);
  await waitForState(alice.client, roomId, 'org.hearth.sensor', 'energy.voltage', (c) => c.value === 232);
  await waitForState(alice.client, roomId, 'org.hearth.sensor', 'power', (c) => c.value === false);

  // A persistent session (clean session 0) for the plug's command topics, then the client goes away.
  const sessionId = 'plug-commands';
  const firstVisit = new MosquittoSub(asPlug(), ['cmnd/plug/#'], { id: sessionId, persistent: true, qos: 1, extra: ['-E'] });
  t.is(await firstVisit.exitCode(), 0, firstVisit.log());
  // While it is away, alice (joined, an owner: power 50) publishes a QoS 1 command for it.
  await publish(asAlice(), 'cmnd/plug/POWER', 'TOGGLE', { qos: 1 });

  await gateway.server.restart();

  // Retained: a new subscriber gets the LWT, from the restarted broker.
  const retained = new MosquittoSub(asAlice(), ['tele/plug/LWT']);
  const lwt = await retained.next((m) => m.topic === 'tele/plug/LWT', 'the retained LWT');
  await retained.stop();
  t.deepEqual(lwt, { topic: 'tele/plug/LWT', payload: 'Online', qos: 1, retained: true });

  // The session: reconnecting with the same client id and clean session 0 delivers the queued message.
  const secondVisit = new MosquittoSub(asPlug(), ['cmnd/plug/#'], { id: sessionId, persistent: true, qos: 1, extra: ['-C', '1'] });
  t.is(await secondVisit.exitCode(), 0, secondVisit.log());
  t.deepEqual(secondVisit.messages, [{ topic: 'cmnd/plug/POWER', payload: 'TOGGLE', qos: 1, retained: false }]);

  // History: every reading from before the restart, in order, through the telemetry endpoint.
  const history = await telemetry(gateway.server.baseUrl, alice.accessToken, roomId, 'energy.voltage', { resolution: 'raw', from: String(before - 1000) });
  t.is(history.status, 200, JSON.stringify(history.body));
  t.is(history.body.resolution, 'raw');
  t.deepEqual(history.body.points.map((p: { value: number }) => p.value), readings);
  t.true(history.body.points.every((p: { ts: number }) => p.ts >= before && p.ts <= Date.now()));

  // The room and its state are still there, and new readings flow into it.
  t.like(stateContent(alice.client, roomId, 'org.hearth.sensor', 'energy.voltage'), { value: 232, unit: 'V' });
  await publish(asPlug(), 'tele/plug/SENSOR', JSON.stringify({ Time: '2025-01-02T03:09:05', ENERGY: { Voltage: 228 } }));
  await waitForState(alice.client, roomId, 'org.hearth.sensor', 'energy.voltage', (c) => c.value === 228);
  const after = await telemetry(gateway.server.baseUrl, alice.accessToken, roomId, 'energy.voltage', { resolution: 'raw', from: String(before - 1000) });
  t.deepEqual(after.body.points.map((p: { value: number }) => p.value), [...readings, 228]);

  // Someone who is not in the room may not read its history.
  await gateway.addUser('mallory', 'mallory password');
  const stranger = await loginWithSdk(gateway.server.baseUrl, 'mallory', 'mallory password');
  t.is((await telemetry(gateway.server.baseUrl, stranger.accessToken, roomId, 'energy.voltage')).status, 403);
});
