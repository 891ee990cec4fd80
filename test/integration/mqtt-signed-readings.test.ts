/**
 * Signed readings end to end (docs/mqtt.md "Signed readings"): the real agent (`devices/agent/main.ts
 * --config`, spawned) generates its key, the gateway learns it at `hearth device add --public-key`,
 * and its signed readings reach the device room's state and the sensor's history, unwrapped for
 * every other subscriber. Forgeries published with the device's own MQTT login (a wrong key, a
 * tampered value, a replayed envelope, an old counter, a signature made for another topic, no
 * signature at all) are acknowledged and dropped: they never reach room state or history. A device
 * added without a key has the first key it offers pinned (trust on first use, the default), and
 * must sign from then on. Homie's retained per-property values are kept unwrapped.
 */
import test from 'ava';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import mqtt from 'mqtt';
import type * as sdk from 'matrix-js-sdk';
import { decodeBase64 } from '../../src/core/base64.js';
import { generateSigningKey, signingKeyFromSeed } from '../../src/core/signing.js';
import { sealPayload } from '../../src/mqtt/signing/envelope.js';
import { DeviceAgent } from '../../devices/agent/agent.js';
import { homeAssistant } from '../../devices/agent/conventions/home-assistant.js';
import { homie } from '../../devices/agent/conventions/homie.js';
import { ReadingSigner } from '../../devices/agent/signing.js';
import { silenceSdk, waitFor } from './helpers/sdk.js';
import { REPO_ROOT } from './mqtt-helpers/gateway.js';
import { agentSuite } from './mqtt-helpers/agent-suite.js';
import { joinDeviceRoom, stateContent, telemetry, waitForState } from './mqtt-helpers/matrix.js';

silenceSdk();

const suite = agentSuite('hearth-agent-signed-');
const { workDir } = suite;
const FIXTURES = join(REPO_ROOT, 'test/devices/fixtures');
const STATE_TOPIC = 'attic-pi/state';

let roomId: string;
let credentials: { username: string; password: string };

/** Every value the room's `org.hearth.sensor` state took for `sensor`, oldest first. */
function sensorHistoryInRoom(client: sdk.MatrixClient, room: string, sensor: string): unknown[] {
  return (client.getRoom(room)?.getLiveTimeline().getEvents() ?? [])
    .filter((e) => e.getType() === 'org.hearth.sensor' && e.getStateKey() === sensor)
    .map((e) => e.getContent().value);
}

async function rawHistory(room: string, sensor: string): Promise<number[]> {
  const { status, body } = await telemetry(suite.gateway.server.baseUrl, suite.alice.accessToken, room, sensor, { resolution: 'raw', from: String(Date.now() - 3_600_000), to: String(Date.now() + 60_000) });
  if (status !== 200) throw new Error(`telemetry ${status} ${JSON.stringify(body)}`);
  return (body.points as Array<{ value: number }>).map((p) => p.value);
}

async function refusals(): Promise<Record<string, number>> {
  const text = await (await fetch(`${suite.gateway.server.baseUrl}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^hearth_mqtt_refused_total\{reason="([a-z_]+)"\} (\d+)$/gm)) out[m[1]!] = Number(m[2]);
  return out;
}

function reading(value: number): string {
  return JSON.stringify({ cpu_temperature: value, time: new Date().toISOString() });
}

test.serial('the agent generates its key; its signed readings reach room state and history, unwrapped for subscribers', async (t) => {
  const configPath = join(workDir, 'agent.yaml');
  // The credentials file is written after the key is known: `device add` takes the key.
  writeFileSync(
    configPath,
    `broker: mqtt://127.0.0.1:${suite.gateway.server.mqttPort}
credentials_file: credentials.json
device: { id: attic-pi, name: Attic Pi, model: Raspberry Pi 4 }
convention: homeassistant
queue_dir: queue
sensors:
  - { key: cpu_temperature, driver: thermal_zone, root: ${join(FIXTURES, 'thermal')}, zone: cpu-thermal, interval_seconds: 1, unit: °C, device_class: temperature }
`,
  );
  writeFileSync(join(workDir, 'credentials.json'), JSON.stringify({ username: 'attic-pi', password: 'not yet' }));
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'devices/agent/main.ts', '--config', configPath, '--public-key'], { cwd: REPO_ROOT });
  const publicKey = stdout.trim();
  t.is(readFileSync(join(workDir, 'agent.key.pub'), 'utf8').trim(), publicKey, 'generated on first run, beside the queue');

  const added = await suite.gateway.addDevice('attic-pi', ['--public-key', publicKey]);
  t.like(added, { signing: 'signed', publicKey });
  credentials = added;
  writeFileSync(join(workDir, 'credentials.json'), JSON.stringify(added), { mode: 0o600 });
  t.regex(await suite.gateway.cli(['device', 'list']), new RegExp(`^attic-pi\\t@attic-pi:\\S+\\t\\S+\\tsigned ${publicKey.replace(/[+/]/g, '\\$&')}$`, 'm'));

  // A person's MQTT client (access-token login) sees the convention's payloads, not envelopes.
  const watcher = await mqtt.connectAsync(`mqtt://127.0.0.1:${suite.gateway.server.mqttPort}`, { username: suite.alice.userId, password: suite.alice.accessToken, clientId: 'alice-watch', reconnectPeriod: 0 });
  t.teardown(() => watcher.end(true));
  const seen: Array<{ topic: string; payload: string }> = [];
  watcher.on('message', (topic, payload) => seen.push({ topic, payload: payload.toString() }));
  await watcher.subscribeAsync(['attic-pi/#', 'homeassistant/#']);

  suite.startAgent(['--config', configPath]);
  roomId = await joinDeviceRoom(suite.alice.client, `@ha.attic-pi:${suite.gateway.server.serverName}`);
  await waitForState(suite.alice.client, roomId, 'org.hearth.sensor', 'cpu_temperature', (c) => c.value === '45.678');
  t.true((await rawHistory(roomId, 'cpu_temperature')).includes(45.678));
  t.regex(suite.agentLog(), new RegExp(`signing with ed25519 key ${publicKey.replace(/[+/]/g, '\\$&')}`));

  const state = seen.find((m) => m.topic === STATE_TOPIC);
  t.truthy(state, 'the watcher got the state');
  t.like(JSON.parse(state!.payload), { cpu_temperature: 45.678 });
  t.false(seen.some((m) => m.payload.includes('hearth_sig')), 'no envelope reaches a subscriber (retained discovery included)');
  t.true(seen.some((m) => m.topic === 'homeassistant/sensor/attic-pi/cpu_temperature/config'));
});

test.serial('forged, replayed, cross-topic and unsigned readings of a signed device never reach room state or history', async (t) => {
  // The agent stops; the test signs with its key files from here on (same key, same counter file).
  const agentSigner = () => ReadingSigner.open(join(workDir, 'agent.key'), 'attic-pi');
  await suite.stopAgent();
  const seed = decodeBase64((JSON.parse(readFileSync(join(workDir, 'agent.key'), 'utf8')) as { seed: string }).seed);
  const deviceKey = signingKeyFromSeed(seed, 'ed25519:agent');
  const before = await refusals();

  // The device's own login (its password is no secret to this attacker), another client id.
  const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${suite.gateway.server.mqttPort}`, { ...credentials, clientId: 'attic-pi-forger', reconnectPeriod: 0 });
  t.teardown(() => client.end(true));
  const publish = (payload: string, topic = STATE_TOPIC) => client.publishAsync(topic, payload, { qos: 1 });
  const state = { device: 'attic-pi', topic: STATE_TOPIC, retain: false };
  const counter = () => Number(readFileSync(join(workDir, 'agent.key.counter'), 'utf8'));

  // A wrong key; a tampered value; an old counter; a signature made for another topic; no signature.
  await publish(sealPayload(state, reading(91.5), counter() + 10, generateSigningKey()));
  const genuine = agentSigner().seal({ topic: STATE_TOPIC, payload: reading(45.5), retain: false }, { offerKey: false }).payload;
  await publish(genuine.replace('45.5', '92.5'));
  await publish(sealPayload(state, reading(93.5), 1, deviceKey));
  await publish(sealPayload({ ...state, topic: 'attic-pi/other' }, reading(94.5), counter() + 20, deviceKey));
  await publish(reading(95.5));

  // A genuine reading, then the very same envelope again: the replay is dropped.
  const first = agentSigner().seal({ topic: STATE_TOPIC, payload: reading(60.25), retain: false }, { offerKey: false }).payload;
  await publish(first);
  await waitForState(suite.alice.client, roomId, 'org.hearth.sensor', 'cpu_temperature', (c) => c.value === '60.25');
  await publish(first);
  await publish(agentSigner().seal({ topic: STATE_TOPIC, payload: reading(50.5), retain: false }, { offerKey: false }).payload);
  await waitForState(suite.alice.client, roomId, 'org.hearth.sensor', 'cpu_temperature', (c) => c.value === '50.5');

  const forged = ['91.5', '92.5', '93.5', '94.5', '95.5'];
  const roomValues = sensorHistoryInRoom(suite.alice.client, roomId, 'cpu_temperature');
  t.deepEqual(roomValues.filter((v) => forged.includes(String(v))), [], `room state took ${JSON.stringify(roomValues)}`);
  t.deepEqual(roomValues.slice(-2), ['60.25', '50.5'], 'the replay did not set the value again');
  const history = await rawHistory(roomId, 'cpu_temperature');
  t.deepEqual(history.filter((v) => forged.includes(String(v))), [], `history holds ${JSON.stringify(history)}`);
  t.is(history.filter((v) => v === 60.25).length, 1, 'the replayed reading is in history once');
  t.true(history.includes(50.5));

  const after = await refusals();
  t.is(after.forged_signature! - (before.forged_signature ?? 0), 3, 'wrong key, tampered value, another topic');
  t.is(after.replayed_signature! - (before.replayed_signature ?? 0), 2, 'old counter, replayed envelope');
  t.is(after.unsigned! - (before.unsigned ?? 0), 1);
  t.regex(suite.gateway.server.output(), /mqtt message of a signing device refused: bad signature or envelope/);
});

test.serial('trust on first use: a device added without a key is pinned to the first key it offers, then must sign', async (t) => {
  const added = await suite.gateway.addDevice('porch-pi');
  t.is(added.signing, 'unsigned');
  const keyFile = join(workDir, 'porch', 'agent.key');
  const signer = ReadingSigner.open(keyFile, 'porch-pi');
  const agent = new DeviceAgent({
    brokerUrl: `mqtt://127.0.0.1:${suite.gateway.server.mqttPort}`,
    username: added.username,
    password: added.password,
    device: { id: 'porch-pi', name: 'Porch Pi', model: 'Pi Zero', manufacturer: 'Hearth', sensors: [{ key: 'temperature', kind: 'sensor', unit: '°C' }] },
    convention: homeAssistant,
    queueDir: join(workDir, 'porch', 'queue'),
    signer,
  });
  agent.start();
  t.teardown(() => agent.stop());
  agent.record({ temperature: 20.5 });
  const porchRoom = await joinDeviceRoom(suite.alice.client, `@ha.porch-pi:${suite.gateway.server.serverName}`);
  await waitForState(suite.alice.client, porchRoom, 'org.hearth.sensor', 'temperature', (c) => c.value === '20.5');

  const devices = JSON.parse(await suite.gateway.cli(['device', 'list', '--json'])) as Array<{ name: string; signing: string; publicKey?: string }>;
  t.like(devices.find((d) => d.name === 'porch-pi'), { signing: 'signed', publicKey: signer.publicKey });

  // Unsigned now refused; the agent's next signed reading still passes.
  const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${suite.gateway.server.mqttPort}`, { username: added.username, password: added.password, clientId: 'porch-plain', reconnectPeriod: 0 });
  t.teardown(() => client.end(true));
  await client.publishAsync('porch-pi/state', JSON.stringify({ temperature: 77.5, time: new Date().toISOString() }), { qos: 1 });
  agent.record({ temperature: 21.5 });
  await waitForState(suite.alice.client, porchRoom, 'org.hearth.sensor', 'temperature', (c) => c.value === '21.5');
  t.false(sensorHistoryInRoom(suite.alice.client, porchRoom, 'temperature').includes('77.5'));
  const history = await rawHistory(porchRoom, 'temperature');
  t.deepEqual(history, [20.5, 21.5]);
  t.is(stateContent(suite.alice.client, porchRoom, 'org.hearth.sensor', 'temperature')?.value, '21.5');
});

test.serial('Homie: signed per-property values are retained unwrapped, so a later subscriber gets the plain value', async (t) => {
  const keyFile = join(workDir, 'cellar', 'agent.key');
  const signer = ReadingSigner.open(keyFile, 'cellar-pi');
  const added = await suite.gateway.addDevice('cellar-pi', ['--public-key', signer.publicKey]);
  const agent = new DeviceAgent({
    brokerUrl: `mqtt://127.0.0.1:${suite.gateway.server.mqttPort}`,
    username: added.username,
    password: added.password,
    device: { id: 'cellar-pi', name: 'Cellar Pi', model: 'Pi Zero', manufacturer: 'Hearth', sensors: [{ key: 'humidity', kind: 'sensor', unit: '%' }] },
    convention: homie,
    queueDir: join(workDir, 'cellar', 'queue'),
    signer,
  });
  agent.start();
  t.teardown(() => agent.stop());
  agent.record({ humidity: 61.5 });
  const cellarRoom = await joinDeviceRoom(suite.alice.client, `@homie.cellar-pi:${suite.gateway.server.serverName}`);
  await waitForState(suite.alice.client, cellarRoom, 'org.hearth.sensor', 'main.humidity', (c) => c.value === '61.5');

  const late = await mqtt.connectAsync(`mqtt://127.0.0.1:${suite.gateway.server.mqttPort}`, { username: suite.alice.userId, password: suite.alice.accessToken, clientId: 'alice-late', reconnectPeriod: 0 });
  t.teardown(() => late.end(true));
  const retained = new Map<string, string>();
  late.on('message', (topic, payload, packet) => {
    if (packet.retain) retained.set(topic, payload.toString());
  });
  await late.subscribeAsync('homie/5/cellar-pi/#');
  await waitFor(() => retained.has('homie/5/cellar-pi/main/humidity') && retained.has('homie/5/cellar-pi/$state'), 'the retained Homie topics');
  t.is(retained.get('homie/5/cellar-pi/main/humidity'), '61.5');
  t.is(retained.get('homie/5/cellar-pi/$state'), 'ready');
  t.like(JSON.parse(retained.get('homie/5/cellar-pi/$description')!), { homie: '5.0', name: 'Cellar Pi' });
});
