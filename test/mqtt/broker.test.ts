/**
 * The embedded broker with real clients (mqtt.js, mosquitto_pub/sub): authentication, ACL,
 * durability of QoS 1 acknowledgements, restart persistence, limits, and MQTT over WebSocket.
 */
import test from 'ava';
import { execFile } from 'node:child_process';
import { createServer } from 'node:http';
import { createConnection } from 'node:net';
import mqttPacket from 'mqtt-packet';
import { promisify } from 'node:util';
import mqtt, { type ErrorWithReasonCode, type ErrorWithSubackPacket } from 'mqtt';
import { ALICE_TOKEN, connect, sleep, startHarness, tempDir, until } from './broker-fixtures.js';

const run = promisify(execFile);

function mosquittoPub(port: number, args: string[]): Promise<{ stdout: string; stderr: string }> {
  return run('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(port), '-V', 'mqttv311', ...args], { timeout: 10_000 });
}

test('wrong password and anonymous clients are refused with CONNACK 4 and 5', async (t) => {
  const h = await startHarness();
  t.teardown(() => h.stop());
  await h.registry.addDevice('kitchen');

  const wrong = await t.throwsAsync(connect(h.url, { username: 'kitchen', password: 'not-the-password' }));
  t.is((wrong as ErrorWithReasonCode).code, 4);
  const anonymous = await t.throwsAsync(connect(h.url));
  t.is((anonymous as ErrorWithReasonCode).code, 5);
  const unknown = await t.throwsAsync(connect(h.url, { username: 'nobody', password: 'x' }));
  t.is((unknown as ErrorWithReasonCode).code, 4);

  // mosquitto_pub reports the refusal and exits non-zero.
  await t.throwsAsync(mosquittoPub(h.broker.port, ['-u', 'kitchen', '-P', 'wrong', '-t', 'kitchen/x', '-m', '1']));
  t.is(h.broker.stats().authFailures, 4);
  t.deepEqual(h.received, []);
});

test('anonymous clients are accepted when allow_anonymous is set', async (t) => {
  const h = await startHarness({ mqtt: { allowAnonymous: true } });
  t.teardown(() => h.stop());
  const client = await connect(h.url);
  await client.publishAsync('anything/at/all', '1', { qos: 1 });
  await client.endAsync();
  t.is(h.received[0]?.topic, 'anything/at/all');
  t.is(h.received[0]?.deviceName, undefined);
});

test('a device publishes its own topics; publishing to another device is dropped, not seen by the bridge', async (t) => {
  const h = await startHarness();
  t.teardown(() => h.stop());
  const kitchen = await h.registry.addDevice('kitchen');
  await h.registry.addDevice('garage');
  const port = String(h.broker.port);
  const creds = ['-u', kitchen.username, '-P', kitchen.password];

  await mosquittoPub(Number(port), [...creds, '-q', '1', '-t', 'garage/temperature', '-m', '99']);
  await mosquittoPub(Number(port), [...creds, '-q', '1', '-t', 'zigbee2mqtt/garage', '-m', '{"temperature":99}']);
  await mosquittoPub(Number(port), [...creds, '-q', '1', '-t', 'tele/kitchen/SENSOR', '-m', '{"T":21.5}']);

  await until(() => h.received.length === 1, 5000, 'the own publish');
  t.deepEqual(
    h.received.map((m) => [m.topic, m.payload.toString(), m.deviceName]),
    [['tele/kitchen/SENSOR', '{"T":21.5}', 'kitchen']],
  );
  t.is(h.broker.stats().refusedPublishes, 2);
  t.is(h.broker.stats().accepted, 1);
});

test('a refused publish reaches no subscriber and is not retained', async (t) => {
  const h = await startHarness();
  t.teardown(() => h.stop());
  const kitchen = await h.registry.addDevice('kitchen');
  const watcher = await connect(h.url, { username: 'alice', password: ALICE_TOKEN });
  t.teardown(() => watcher.end(true));
  const seen: string[] = [];
  watcher.on('message', (topic) => seen.push(topic));
  await watcher.subscribeAsync('#', { qos: 1 });

  const device = await connect(h.url, { username: kitchen.username, password: kitchen.password });
  await device.publishAsync('garage/state', 'forged', { qos: 1, retain: true });
  await device.publishAsync('kitchen/state', 'ok', { qos: 1 });
  await device.endAsync();
  await until(() => seen.length === 1, 5000, 'the allowed message');
  t.deepEqual(seen, ['kitchen/state']);

  const late = await connect(h.url, { username: 'alice', password: ALICE_TOKEN });
  t.teardown(() => late.end(true));
  const retained: string[] = [];
  late.on('message', (topic) => retained.push(topic));
  await late.subscribeAsync('garage/#', { qos: 1 });
  await sleep(200);
  t.deepEqual(retained, []);
});

test('a subscription outside the ACL gets SUBACK 0x80, allowed ones their QoS', async (t) => {
  const h = await startHarness();
  t.teardown(() => h.stop());
  const kitchen = await h.registry.addDevice('kitchen');
  const device = await connect(h.url, { username: kitchen.username, password: kitchen.password });
  t.teardown(() => device.end(true));

  // mqtt.js rejects a SUBACK containing 0x80 and carries the packet in the error.
  const refusal = await t.throwsAsync(
    device.subscribeAsync({ 'zigbee2mqtt/kitchen/set': { qos: 1 }, 'zigbee2mqtt/garage/set': { qos: 1 }, '#': { qos: 0 }, 'cmnd/kitchen/#': { qos: 1 } }),
  );
  t.deepEqual((refusal as ErrorWithSubackPacket).packet.granted, [1, 0x80, 0x80, 1]);
  t.is(h.broker.stats().refusedSubscriptions, 2);
});

test('a Matrix access token logs in as that user: subscribe anywhere, publish only the commands the bridge allows, never retained', async (t) => {
  const asked: string[] = [];
  const h = await startHarness({
    authorizeUserCommand: async (userId, topic) => {
      asked.push(`${userId} ${topic}`);
      return topic === 'cmnd/lamp/POWER';
    },
  });
  t.teardown(() => h.stop());
  const lamp = await h.registry.addDevice('lamp');
  const bad = await t.throwsAsync(connect(h.url, { username: 'bob', password: ALICE_TOKEN }));
  t.is((bad as ErrorWithReasonCode).code, 4);

  const alice = await connect(h.url, { username: '@alice:hearth.test', password: ALICE_TOKEN });
  t.teardown(() => alice.end(true));
  const granted = await alice.subscribeAsync('#', { qos: 1 });
  t.is(granted[0]?.qos, 1);
  await alice.publishAsync('tele/lamp/SENSOR', '{"forged":true}', { qos: 1 });
  await alice.publishAsync('cmnd/lamp/POWER', 'ON', { qos: 1, retain: true });
  await alice.publishAsync('lamp/switch/set', 'ON', { qos: 1 });
  await alice.publishAsync('$SYS/x', 'ON', { qos: 1 });
  t.deepEqual(
    h.received.map((m) => [m.topic, m.retain, m.publisher]),
    [['cmnd/lamp/POWER', false, 'user:@alice:hearth.test']],
  );
  t.deepEqual(asked, ['@alice:hearth.test tele/lamp/SENSOR', '@alice:hearth.test cmnd/lamp/POWER', '@alice:hearth.test lamp/switch/set']);
  t.is(h.broker.stats().refusedPublishes, 3);

  // The command was not retained: a later subscriber gets only the device's retained marker,
  // which the broker streams after the retained messages of the filters before it.
  const device = await connect(h.url, { username: lamp.username, password: lamp.password });
  await device.publishAsync('lamp/marker', 'here', { qos: 1, retain: true });
  await device.endAsync();
  const late = await connect(h.url, { username: '@alice:hearth.test', password: ALICE_TOKEN });
  t.teardown(() => late.end(true));
  const retained: string[] = [];
  late.on('message', (topic) => retained.push(topic));
  await late.subscribeAsync(['cmnd/#', 'lamp/marker'], { qos: 1 });
  await until(() => retained.length > 0, 5000, 'the marker');
  t.deepEqual(retained, ['lamp/marker']);
});

test('QoS 1: the PUBACK is sent only after the inbound handler resolved', async (t) => {
  const events: string[] = [];
  const h = await startHarness({
    handler: async (msg) => {
      events.push(`handler started ${msg.payload}`);
      await sleep(300);
      events.push(`handler resolved ${msg.payload}`);
    },
  });
  t.teardown(() => h.stop());
  const dev = await h.registry.addDevice('slow');
  const client = await connect(h.url, { username: dev.username, password: dev.password });
  t.teardown(() => client.end(true));
  const started = Date.now();
  await client.publishAsync('slow/reading', 'a', { qos: 1 });
  events.push('puback received a');
  t.true(Date.now() - started >= 290);
  t.deepEqual(events, ['handler started a', 'handler resolved a', 'puback received a']);
});

test('a handler rejection is counted and the message still acknowledged; the broker keeps serving', async (t) => {
  const h = await startHarness({
    handler: async (msg) => {
      if (msg.payload.toString() === 'bad') throw new Error('malformed payload');
    },
  });
  t.teardown(() => h.stop());
  const dev = await h.registry.addDevice('probe');
  const client = await connect(h.url, { username: dev.username, password: dev.password });
  t.teardown(() => client.end(true));
  await client.publishAsync('probe/x', 'bad', { qos: 1 });
  await client.publishAsync('probe/x', 'good', { qos: 1 });
  t.is(h.broker.stats().malformed, 1);
  t.deepEqual(h.received.map((m) => m.payload.toString()), ['good']);
});

test('an oversized payload closes only that connection; the broker keeps serving', async (t) => {
  const h = await startHarness({ mqtt: { maxPayloadBytes: 1024 } });
  t.teardown(() => h.stop());
  const dev = await h.registry.addDevice('big');
  const client = await connect(h.url, { username: dev.username, password: dev.password });
  const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
  client.publish('big/blob', Buffer.alloc(4096, 1), { qos: 1 });
  await closed;
  client.end(true);
  t.is(h.broker.stats().oversized, 1);

  const again = await connect(h.url, { username: dev.username, password: dev.password });
  await again.publishAsync('big/small', Buffer.alloc(512, 1), { qos: 1 });
  await again.endAsync();
  t.deepEqual(h.received.map((m) => m.topic), ['big/small']);
});

test('a QoS 0 flood is back-pressured: the bridge holds a bounded number of its messages, then gets them all', async (t) => {
  let open!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  let started = 0;
  const h = await startHarness({
    handler: async () => {
      started++;
      await gate;
    },
  });
  t.teardown(() => h.stop());
  const dev = await h.registry.addDevice('chatty');
  const client = await connect(h.url, { username: dev.username, password: dev.password });
  t.teardown(() => client.end(true));
  const FLOOD = 2000;
  const payload = Buffer.alloc(1000, 1);
  for (let i = 0; i < FLOOD; i++) client.publish('chatty/reading', payload, { qos: 0 });
  await until(() => started >= 256, 10_000, '256 messages with the bridge');
  // Loopback delivers the whole flood within milliseconds; held back, it stays at the cap plus
  // what one socket read carried (the broker handles a read's packets together).
  await sleep(500);
  t.true(started < FLOOD / 2, `${started} of ${FLOOD} handed over while the bridge was stuck`);
  open();
  await until(() => h.received.length === FLOOD, 20_000, 'the whole flood');
  t.is(started, FLOOD);
});

test('a packet declaring 256 MB is refused from its header: the connection closes before the body is sent', async (t) => {
  const h = await startHarness({ mqtt: { maxPayloadBytes: 1024 } });
  t.teardown(() => h.stop());
  const dev = await h.registry.addDevice('huge');
  const socket = createConnection({ host: '127.0.0.1', port: h.broker.port });
  t.teardown(() => socket.destroy());
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  const connack = new Promise<Buffer>((resolve) => socket.once('data', resolve));
  socket.write(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: 'huge-1', keepalive: 30, username: dev.username, password: Buffer.from(dev.password) }));
  t.deepEqual([...(await connack)], [0x20, 0x02, 0x00, 0x00], 'CONNACK, accepted');
  // PUBLISH QoS 1 declaring the largest remaining length MQTT allows, then only its first bytes.
  socket.write(Buffer.concat([Uint8Array.of(0x32, 0xff, 0xff, 0xff, 0x7f), Buffer.from([0x00, 0x06]), Buffer.from('huge/x')]));
  await closed;
  t.is(h.broker.stats().oversized, 1);
  t.deepEqual(h.received, []);

  const again = await connect(h.url, { username: dev.username, password: dev.password });
  await again.publishAsync('huge/small', Buffer.alloc(512, 1), { qos: 1 });
  await again.endAsync();
  t.deepEqual(h.received.map((m) => m.topic), ['huge/small']);
});

test('retained messages and a persistent session survive closing and reopening broker and database', async (t) => {
  const dir = tempDir();
  let h = await startHarness({ dir });
  const sensor = await h.registry.addDevice('sensor');
  const device = await connect(h.url, { username: sensor.username, password: sensor.password });
  await device.publishAsync('homie/5/sensor/$state', 'ready', { qos: 1, retain: true });

  // A dashboard with a persistent session subscribes, then goes away.
  const session = { clientId: 'dashboard-1', clean: false, username: 'alice', password: ALICE_TOKEN };
  let dashboard = await connect(h.url, session);
  await dashboard.subscribeAsync('homie/5/+/temperature/value', { qos: 1 });
  await dashboard.endAsync();
  // Published while the dashboard is offline: queued for its session.
  await device.publishAsync('homie/5/sensor/temperature/value', '21.5', { qos: 1 });
  await device.endAsync();
  await h.stop();

  h = await startHarness({ dir });
  t.teardown(() => h.stop());
  // The session's subscription is back without subscribing again, with the queued message.
  const got: [string, string][] = [];
  dashboard = await connect(h.url, session);
  dashboard.on('message', (topic, payload) => got.push([topic, payload.toString()]));
  await until(() => got.length === 1, 5000, 'the queued message');
  t.deepEqual(got, [['homie/5/sensor/temperature/value', '21.5']]);
  const live = await connect(h.url, { username: sensor.username, password: sensor.password });
  await live.publishAsync('homie/5/sensor/temperature/value', '22', { qos: 1 });
  await live.endAsync();
  await until(() => got.length === 2, 5000, 'the live message through the restored subscription');
  await dashboard.endAsync();

  // The retained state is delivered to a new subscriber.
  const fresh = await connect(h.url, { username: 'alice', password: ALICE_TOKEN });
  const retained: [string, string, boolean][] = [];
  fresh.on('message', (topic, payload, packet) => retained.push([topic, payload.toString(), packet.retain]));
  await fresh.subscribeAsync('homie/5/sensor/$state', { qos: 1 });
  await until(() => retained.length === 1, 5000, 'the retained message');
  t.deepEqual(retained, [['homie/5/sensor/$state', 'ready', true]]);
  await fresh.endAsync();
});

test('the offline queue of a persistent session is capped', async (t) => {
  const h = await startHarness({ mqtt: { offlineQueueLimit: 5 } });
  t.teardown(() => h.stop());
  const dev = await h.registry.addDevice('chatty');
  const session = { clientId: 'slow-reader', clean: false, username: 'alice', password: ALICE_TOKEN };
  let reader = await connect(h.url, session);
  await reader.subscribeAsync('chatty/#', { qos: 1 });
  await reader.endAsync();

  const device = await connect(h.url, { username: dev.username, password: dev.password });
  for (let i = 0; i < 12; i++) await device.publishAsync('chatty/n', String(i), { qos: 1 });
  await device.endAsync();
  t.is(h.broker.stats().offlineDropped, 7);

  const got: string[] = [];
  reader = await connect(h.url, session);
  reader.on('message', (_topic, payload) => got.push(payload.toString()));
  await until(() => got.length === 5, 5000, 'the queued messages');
  await sleep(100);
  t.deepEqual(got, ['0', '1', '2', '3', '4']);
  await reader.endAsync();
});

test('MQTT over WebSocket on an attached HTTP server path', async (t) => {
  const h = await startHarness();
  t.teardown(() => h.stop());
  const dev = await h.registry.addDevice('browser');
  const http = createServer((_req, res) => res.end('plain http still works'));
  const detach = h.broker.attachWebSocket(http, '/_hearth/mqtt');
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    detach();
    http.close();
  });
  const address = http.address();
  if (address === null || typeof address === 'string') throw new Error('no address');

  const client = await connect(`ws://127.0.0.1:${address.port}/_hearth/mqtt`, { username: dev.username, password: dev.password });
  await client.publishAsync('browser/state', 'over-ws', { qos: 1 });
  await client.endAsync();
  t.deepEqual(h.received.map((m) => [m.topic, m.payload.toString(), m.deviceName]), [['browser/state', 'over-ws', 'browser']]);

  const refused = await t.throwsAsync(connect(`ws://127.0.0.1:${address.port}/_hearth/mqtt`, { username: dev.username, password: 'wrong' }));
  t.is((refused as ErrorWithReasonCode).code, 4);
  const page = await fetch(`http://127.0.0.1:${address.port}/`);
  t.is(await page.text(), 'plain http still works');
});

test('removing a device ends its open connections and its credentials stop working', async (t) => {
  const h = await startHarness();
  t.teardown(() => h.stop());
  const dev = await h.registry.addDevice('old');
  const client = await connect(h.url, { username: dev.username, password: dev.password });
  const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
  await h.registry.removeDevice('old');
  t.is(h.broker.disconnectDevice('old'), 1);
  await closed;
  client.end(true);
  const refused = await t.throwsAsync(connect(h.url, { username: dev.username, password: dev.password }));
  t.is((refused as ErrorWithReasonCode).code, 4);
});

/** Connects and returns the CONNACK's session-present flag with the client. */
function connectWithSession(url: string, opts: Parameters<typeof connect>[1]): Promise<{ client: Awaited<ReturnType<typeof connect>>; sessionPresent: boolean }> {
  return new Promise((resolve, reject) => {
    const client = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 5000, ...opts });
    client.once('connect', (connack) => resolve({ client, sessionPresent: connack.sessionPresent }));
    client.once('error', (err) => {
      client.end(true);
      reject(err);
    });
  });
}

test('a client id belongs to the identity using it: another gets CONNACK 2, its owner keeps it', async (t) => {
  const dir = tempDir();
  let h = await startHarness({ dir });
  t.teardown(() => h.stop());
  const kitchen = await h.registry.addDevice('kitchen');
  const garage = await h.registry.addDevice('garage');
  const asKitchen = { username: kitchen.username, password: kitchen.password };
  const asGarage = { username: garage.username, password: garage.password };

  // While the kitchen is connected, the garage cannot take its client id over [MQTT-3.1.4-2].
  const live = await connect(h.url, { ...asKitchen, clientId: 'DVES_1A2B3C' });
  const takeover = await t.throwsAsync(connect(h.url, { ...asGarage, clientId: 'DVES_1A2B3C' }));
  t.is((takeover as ErrorWithReasonCode).code, 2);
  await sleep(100);
  t.true(live.connected, 'the owner stays connected');
  await live.endAsync();
  await sleep(100);
  // Closed and without a persistent session, the id is free for anyone.
  const reused = await connect(h.url, { ...asGarage, clientId: 'DVES_1A2B3C' });
  await reused.endAsync();

  // A persistent session (subscriptions, queued commands) stays the kitchen's, across a restart too.
  const first = await connectWithSession(h.url, { ...asKitchen, clientId: 'kitchen-fw', clean: false });
  await first.client.subscribeAsync('kitchen/set', { qos: 1 });
  await first.client.endAsync();
  await h.stop();
  h = await startHarness({ dir });
  const stolen = await t.throwsAsync(connect(h.url, { ...asGarage, clientId: 'kitchen-fw', clean: false }));
  t.is((stolen as ErrorWithReasonCode).code, 2);
  const asUser = await t.throwsAsync(connect(h.url, { username: 'alice', password: ALICE_TOKEN, clientId: 'kitchen-fw' }));
  t.is((asUser as ErrorWithReasonCode).code, 2);
  t.is(h.broker.stats().clientIdRefused, 2);

  // The owner resumes its session; connecting clean discards it and gives the id up.
  const resumed = await connectWithSession(h.url, { ...asKitchen, clientId: 'kitchen-fw', clean: false });
  t.true(resumed.sessionPresent);
  await resumed.client.endAsync();
  const clean = await connect(h.url, { ...asKitchen, clientId: 'kitchen-fw', clean: true });
  await clean.endAsync();
  await sleep(100);
  const garageNow = await connectWithSession(h.url, { ...asGarage, clientId: 'kitchen-fw', clean: false });
  t.false(garageNow.sessionPresent, 'a new session, not the kitchen\'s');
  await garageNow.client.endAsync();
});

test('removing a device releases the client ids of its persistent sessions', async (t) => {
  const h = await startHarness();
  t.teardown(() => h.stop());
  const old = await h.registry.addDevice('old');
  const other = await h.registry.addDevice('other');
  const session = await connect(h.url, { username: old.username, password: old.password, clientId: 'shared-fw', clean: false });
  await session.endAsync();
  const refused = await t.throwsAsync(connect(h.url, { username: other.username, password: other.password, clientId: 'shared-fw', clean: false }));
  t.is((refused as ErrorWithReasonCode).code, 2);
  await h.registry.removeDevice('old');
  h.broker.disconnectDevice('old');
  await sleep(100);
  const taken = await connect(h.url, { username: other.username, password: other.password, clientId: 'shared-fw', clean: false });
  t.true(taken.connected);
  await taken.endAsync();
});
