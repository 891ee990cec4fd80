/**
 * External-broker mode against a real Mosquitto started by the test, and the MQTT 3.1.1 fallback
 * against the embedded aedes (which refuses MQTT 5).
 */
import test from 'ava';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ExternalBroker } from '../../src/mqtt/broker/external.js';
import type { InboundMessage } from '../../src/mqtt/transport.js';
import { ALICE_TOKEN, sleep, startHarness, tempDir, until } from './broker-fixtures.js';

const run = promisify(execFile);
const quiet = { warn: () => undefined };

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/** Mosquitto 2 on a loopback port: a listener line and anonymous access need a config file. */
async function startMosquitto(port: number): Promise<ChildProcess> {
  const config = join(tempDir(), 'mosquitto.conf');
  writeFileSync(config, `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\n`);
  const child = spawn('mosquitto', ['-c', config], { stdio: 'ignore' });
  let listening = false;
  for (let i = 0; i < 100 && !listening; i++) {
    listening = await run('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(port), '-t', 'probe', '-n']).then(
      () => true,
      () => false,
    );
    if (!listening) {
      if (child.exitCode !== null) throw new Error(`mosquitto exited with ${child.exitCode}`);
      await sleep(50);
    }
  }
  if (!listening) {
    child.kill('SIGKILL');
    throw new Error('mosquitto did not start');
  }
  return child;
}

async function stopMosquitto(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}

test('external mode: MQTT 5 to Mosquitto, inbound messages, QoS 1 acked after the handler, commands out, reconnect', async (t) => {
  const port = await freePort();
  let mosquitto = await startMosquitto(port);
  t.teardown(() => stopMosquitto(mosquitto));

  const received: InboundMessage[] = [];
  const external = new ExternalBroker({
    url: `mqtt://127.0.0.1:${port}`,
    clientId: 'hearth-test',
    topics: ['tele/#', 'zigbee2mqtt/#'],
    maxPayloadBytes: 65536,
    logger: quiet,
    minReconnectMs: 100,
    maxReconnectMs: 400,
  });
  external.setInboundHandler(async (msg) => {
    await sleep(200);
    received.push(msg);
  });
  await external.start();
  t.teardown(() => external.stop());
  t.is(external.protocol, 5);

  // A device publishes with mosquitto_pub; QoS 1 completes only after our handler (200 ms).
  const started = Date.now();
  await run('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(port), '-V', 'mqttv5', '-q', '1', '-t', 'tele/plug/SENSOR', '-m', '{"ENERGY":{"Power":12}}']);
  await until(() => received.length === 1, 5000, 'the reading');
  t.true(Date.now() - started >= 200);
  t.deepEqual([received[0]!.topic, received[0]!.payload.toString(), received[0]!.clientId], ['tele/plug/SENSOR', '{"ENERGY":{"Power":12}}', '']);

  // Not subscribed: never seen.
  await run('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(port), '-t', 'other/topic', '-m', 'x']);

  // A command from the gateway reaches a device listening with mosquitto_sub; no-local keeps it from echoing back.
  const sub = spawn('mosquitto_sub', ['-h', '127.0.0.1', '-p', String(port), '-t', 'zigbee2mqtt/plug/set', '-C', '1']);
  let output = '';
  sub.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const subExited = new Promise((resolve) => sub.once('exit', resolve));
  await sleep(300);
  await external.publish('zigbee2mqtt/plug/set', '{"state":"ON"}', { qos: 1, retain: false });
  await subExited;
  t.is(output.trim(), '{"state":"ON"}');
  await sleep(300);
  t.deepEqual(received.map((m) => m.topic), ['tele/plug/SENSOR']);

  // The broker dies and comes back on the same port: the gateway reconnects and resubscribes.
  await stopMosquitto(mosquitto);
  mosquitto = await startMosquitto(port);
  let delivered = false;
  for (let i = 0; i < 50 && !delivered; i++) {
    await run('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(port), '-q', '1', '-t', 'tele/plug/STATE', '-m', String(i)]);
    await sleep(200);
    delivered = received.some((m) => m.topic === 'tele/plug/STATE');
  }
  t.true(delivered);
  t.is(external.stats().accepted, received.length);
});

test('external mode falls back to MQTT 3.1.1 when the broker refuses MQTT 5 (aedes)', async (t) => {
  const h = await startHarness();
  t.teardown(() => h.stop());
  const dev = await h.registry.addDevice('meter');
  const received: InboundMessage[] = [];
  const external = new ExternalBroker({
    url: h.url,
    username: 'alice',
    password: ALICE_TOKEN,
    clientId: 'hearth-fallback',
    maxPayloadBytes: 65536,
    logger: quiet,
  });
  external.setInboundHandler(async (msg) => void received.push(msg));
  await external.start();
  t.teardown(() => external.stop());
  t.is(external.protocol, 4);

  await run('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(h.broker.port), '-u', dev.username, '-P', dev.password, '-q', '1', '-t', 'meter/power', '-m', '230']);
  await until(() => received.length === 1, 5000, 'the reading through the external connection');
  t.is(received[0]!.payload.toString(), '230');
});

test('external mode: refused credentials reject start()', async (t) => {
  const h = await startHarness();
  t.teardown(() => h.stop());
  const external = new ExternalBroker({ url: h.url, username: 'alice', password: 'wrong', clientId: 'x', maxPayloadBytes: 1024, logger: quiet });
  const err = await t.throwsAsync(external.start());
  t.is((err as { code?: number }).code, 4);
});
