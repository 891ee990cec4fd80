import test from 'ava';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { DeviceAgent } from '../../devices/agent/agent.js';
import { conventionByName } from '../../devices/agent/conventions/index.js';
import type { DeviceDescription } from '../../devices/agent/device.js';
import { freePort, KillableAedes, MosquittoProcess, waitFor, type ReceivedMessage } from './brokers.js';

const counter: DeviceDescription = {
  id: 'counter-1',
  name: 'Counter',
  model: 'SIM-COUNT',
  manufacturer: 'Hearth',
  sensors: [{ key: 'n', kind: 'sensor' }],
};

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'hearth-agent-'));
}

/** The `n` values carried by Home Assistant state messages, in arrival order. */
function countsOf(messages: ReceivedMessage[]): number[] {
  return messages.filter((m) => m.topic === 'counter-1/state').map((m) => (JSON.parse(m.payload) as { n: number }).n);
}

/** QoS 1 may repeat a message: the order of first occurrences must be exactly 1..count. */
function assertNoGapsInOrder(t: { deepEqual: (a: unknown, b: unknown, m?: string) => void }, seen: number[], count: number): void {
  const firsts: number[] = [];
  const had = new Set<number>();
  for (const n of seen) {
    if (!had.has(n)) firsts.push(n);
    had.add(n);
  }
  t.deepEqual(firsts, Array.from({ length: count }, (_, i) => i + 1), 'every reading arrives, in the order produced');
}

function newAgent(port: number, queueDir: string): DeviceAgent {
  return new DeviceAgent({
    brokerUrl: `mqtt://127.0.0.1:${port}`,
    device: counter,
    convention: conventionByName('homeassistant'),
    queueDir,
    reconnectMinMs: 50,
    reconnectMaxMs: 200,
    queueSyncIntervalMs: 50,
  });
}

test('aedes killed mid-stream: readings taken offline are replayed in order after restart', async (t) => {
  const port = await freePort();
  const first = new KillableAedes(port);
  await first.start();
  const agent = newAgent(port, tempDir());
  agent.start();
  await waitFor(() => agent.stats().connected, 5000, 'agent online');
  for (let n = 1; n <= 10; n++) agent.record({ n });
  await waitFor(() => countsOf(first.received).length >= 10, 5000, 'first 10 readings');

  await first.kill();
  await waitFor(() => !agent.stats().connected, 5000, 'agent offline');
  for (let n = 11; n <= 60; n++) agent.record({ n });
  t.is(agent.stats().queued, 50, 'offline readings wait in the disk queue');

  const second = new KillableAedes(port);
  await second.start();
  await waitFor(() => countsOf(second.received).length >= 50, 10_000, 'replay');
  assertNoGapsInOrder(t, [...countsOf(first.received), ...countsOf(second.received)], 60);
  await waitFor(() => agent.stats().queued === 0, 5000, 'queue drained');

  // Back online: new readings flow directly again, after the replayed ones.
  for (let n = 61; n <= 70; n++) agent.record({ n });
  await waitFor(() => countsOf(second.received).includes(70), 5000, 'live readings');
  assertNoGapsInOrder(t, [...countsOf(first.received), ...countsOf(second.received)], 70);
  await agent.stop();
  await second.kill();
});

test('mosquitto SIGKILLed: no gaps, order of first occurrences kept', async (t) => {
  const port = await freePort();
  const broker = new MosquittoProcess(port);
  await broker.start();
  const seen: number[] = [];
  const subscriber = mqtt.connect(`mqtt://127.0.0.1:${port}`, { reconnectPeriod: 20, clean: true });
  subscriber.on('message', (topic, payload) => seen.push((JSON.parse(payload.toString()) as { n: number }).n));
  await subscriber.subscribeAsync('counter-1/state', { qos: 1 });

  // The agent waits longer before reconnecting than the subscriber, so the subscriber is back first.
  const agent = new DeviceAgent({
    brokerUrl: `mqtt://127.0.0.1:${port}`,
    device: counter,
    convention: conventionByName('homeassistant'),
    queueDir: tempDir(),
    reconnectMinMs: 800,
    reconnectMaxMs: 1000,
  });
  agent.start();
  await waitFor(() => agent.stats().connected, 5000, 'agent online');
  for (let n = 1; n <= 20; n++) agent.record({ n });
  await waitFor(() => seen.length >= 20, 5000, 'first readings');

  await broker.kill();
  await waitFor(() => !agent.stats().connected, 5000, 'agent offline');
  for (let n = 21; n <= 120; n++) agent.record({ n });
  await broker.start();
  await waitFor(() => subscriber.connected, 5000, 'subscriber back');
  await subscriber.subscribeAsync('counter-1/state', { qos: 1 });
  await waitFor(() => seen.includes(120), 15_000, 'replay through mosquitto');
  assertNoGapsInOrder(t, seen, 120);
  await agent.stop();
  await subscriber.endAsync(true);
  await broker.kill();
});

test('readings survive an agent restart while offline', async (t) => {
  const port = await freePort();
  const queueDir = tempDir();
  const offline = newAgent(port, queueDir);
  offline.start(); // nothing listens on the port
  for (let n = 1; n <= 25; n++) offline.record({ n });
  await offline.stop();

  const broker = new KillableAedes(port);
  await broker.start();
  const agent = newAgent(port, queueDir);
  agent.start();
  t.is(agent.stats().queued, 25, 'the queue came back from disk');
  await waitFor(() => countsOf(broker.received).length >= 25, 5000, 'replay after restart');
  assertNoGapsInOrder(t, countsOf(broker.received), 25);
  await agent.stop();
  await broker.kill();
});

test('a command reaches the actuator and its new state is reported back', async (t) => {
  const port = await freePort();
  const broker = new KillableAedes(port);
  await broker.start();
  const plug: DeviceDescription = {
    id: 'plug-1',
    name: 'Plug',
    model: 'SIM-PLUG',
    manufacturer: 'Hearth',
    sensors: [{ key: 'state', kind: 'switch', deviceClass: 'outlet' }],
  };
  let state = 'OFF' as 'ON' | 'OFF';
  const agent = new DeviceAgent({
    brokerUrl: `mqtt://127.0.0.1:${port}`,
    device: plug,
    convention: conventionByName('zigbee2mqtt'),
    queueDir: tempDir(),
    onCommand: (command) => {
      state = command.value === 'TOGGLE' ? (state === 'ON' ? 'OFF' : 'ON') : (command.value as 'ON' | 'OFF');
      return { state };
    },
  });
  agent.start();
  await waitFor(() => agent.stats().connected, 5000, 'agent online');
  const controller = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`);
  await controller.publishAsync('zigbee2mqtt/plug-1/set', JSON.stringify({ state: 'ON' }), { qos: 1 });
  await waitFor(() => broker.received.some((m) => m.topic === 'zigbee2mqtt/plug-1'), 5000, 'state report');
  const report = broker.received.find((m) => m.topic === 'zigbee2mqtt/plug-1')!;
  t.is((JSON.parse(report.payload) as { state: string }).state, 'ON');
  t.is(state, 'ON');
  t.is(agent.stats().commands, 1);
  const availability = broker.received.find((m) => m.topic === 'zigbee2mqtt/plug-1/availability');
  t.deepEqual(JSON.parse(availability!.payload), { state: 'online' });
  t.true(availability!.retain);
  await controller.endAsync();
  await agent.stop();
  await broker.kill();
});
