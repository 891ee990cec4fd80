/**
 * The project's own device agent (devices/agent, Home Assistant convention) against the real
 * gateway with the credentials of `hearth device add`: its discovery, state and availability topics
 * must pass the default ACL (a device owns `<name>/...`, as ESPHome publishes), its command topic
 * subscription must be granted, and a command from Matrix must switch the simulated plug.
 */
import test from 'ava';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as sdk from 'matrix-js-sdk';
import { silenceSdk } from './helpers/sdk.js';
import { REPO_ROOT, startMqttGateway, type MqttGateway } from './mqtt-helpers/gateway.js';
import { joinDeviceRoom, startPerson, stateContent, waitForState, waitForTimelineEvent, type Person } from './mqtt-helpers/matrix.js';

silenceSdk();

let gateway: MqttGateway;
let alice: Person;
let agent: ChildProcess | undefined;
let agentLog = '';
const workDir = mkdtempSync(join(tmpdir(), 'hearth-agent-it-'));

test.before(async () => {
  gateway = await startMqttGateway();
  alice = await startPerson(gateway, 'alice', 'alice password', { admin: true });
});

test.afterEach.always((t) => {
  if (!t.passed) t.log(gateway.server.output(), agentLog);
});

test.after.always(async () => {
  if (agent && agent.exitCode === null) {
    const exited = new Promise((done) => agent!.once('exit', done));
    agent.kill('SIGTERM');
    await exited;
  }
  await gateway?.stop();
  alice?.client.stopClient();
  rmSync(workDir, { recursive: true, force: true });
});

test.serial('the device agent (Home Assistant convention) becomes a room and obeys a command from Matrix', async (t) => {
  const credentials = await gateway.addDevice('porch-plug');
  const credentialsFile = join(workDir, 'porch-plug.json');
  writeFileSync(credentialsFile, JSON.stringify(credentials));
  agent = spawn(
    process.execPath,
    ['--import', 'tsx', 'devices/agent/main.ts', '--broker', `mqtt://127.0.0.1:${gateway.server.mqttPort}`, '--convention', 'homeassistant',
      '--id', 'porch-plug', '--kind', 'switch', '--source', 'sim', '--rate', '2', '--credentials', credentialsFile, '--queue-dir', join(workDir, 'queue')],
    { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  agent.stdout!.on('data', (c: Buffer) => (agentLog += c.toString()));
  agent.stderr!.on('data', (c: Buffer) => (agentLog += c.toString()));

  const roomId = await joinDeviceRoom(alice.client, `@ha.porch-plug:${gateway.server.serverName}`);
  t.like(stateContent(alice.client, roomId, 'org.hearth.device'), {
    name: 'Switch porch-plug',
    model: 'SIM-PLUG',
    manufacturer: 'Hearth simulator',
    sensors: { state: { name: 'state', kind: 'boolean', device_class: 'outlet', settable: true } },
  });
  await waitForState(alice.client, roomId, 'org.hearth.sensor', 'state', (c) => c.value === false);
  await waitForState(alice.client, roomId, 'org.hearth.availability', '', (c) => c.online === true);

  const { event_id } = await alice.client.sendTextMessage(roomId, '!set state on');
  const result = await waitForTimelineEvent(
    alice.client,
    roomId,
    (e: sdk.MatrixEvent) => e.getType() === 'org.hearth.command.result' && (e.getContent()['m.relates_to'] as { event_id?: string } | undefined)?.event_id === event_id,
    'the command result',
  );
  t.like(result.getContent(), { sensor: 'state', value: true, status: 'ok' });
  t.regex(agentLog, /command \{"key":"state","value":"ON"\}/);
  await waitForState(alice.client, roomId, 'org.hearth.sensor', 'state', (c) => c.value === true);
});
