/**
 * The device agent for real sensors, end to end: `devices/agent/main.ts --config` with a thermal
 * zone and two DS18B20s read from fixture trees in the kernel's formats publishes through the real
 * gateway with the credentials of `hearth device add`; the zone's temperature shows in the device
 * room's state, and the DS18B20 reads that must never be published (a CRC mismatch, the 85 °C
 * power-on value) do not.
 */
import test from 'ava';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silenceSdk } from './helpers/sdk.js';
import { REPO_ROOT, startMqttGateway, type MqttGateway } from './mqtt-helpers/gateway.js';
import { joinDeviceRoom, startPerson, stateContent, waitForState, type Person } from './mqtt-helpers/matrix.js';

silenceSdk();

let gateway: MqttGateway;
let alice: Person;
let agent: ChildProcess | undefined;
let agentLog = '';
const workDir = mkdtempSync(join(tmpdir(), 'hearth-agent-sensors-'));
const FIXTURES = join(REPO_ROOT, 'test/devices/fixtures');

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

test.serial('a thermal zone read by the agent becomes the sensor state of its device room; bad 1-Wire reads never do', async (t) => {
  const credentials = await gateway.addDevice('attic-pi');
  writeFileSync(join(workDir, 'credentials.json'), JSON.stringify(credentials), { mode: 0o600 });
  const configPath = join(workDir, 'agent.yaml');
  writeFileSync(
    configPath,
    `broker: mqtt://127.0.0.1:${gateway.server.mqttPort}
credentials_file: credentials.json
device: { id: attic-pi, name: Attic Pi, model: Raspberry Pi 4 }
convention: homeassistant
queue_dir: queue
sensors:
  - { key: cpu_temperature, driver: thermal_zone, root: ${join(FIXTURES, 'thermal')}, zone: cpu-thermal, interval_seconds: 1, unit: °C, device_class: temperature }
  - { key: crc_failing, driver: ds18b20, root: ${join(FIXTURES, 'w1')}, device: 28-0316a2796eff, interval_seconds: 1, unit: °C }
  - { key: powering_up, driver: ds18b20, root: ${join(FIXTURES, 'w1')}, device: 28-01192ba5c0ff, interval_seconds: 1, unit: °C }
`,
  );
  agent = spawn(process.execPath, ['--import', 'tsx', 'devices/agent/main.ts', '--config', configPath], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  agent.stdout!.on('data', (c: Buffer) => (agentLog += c.toString()));
  agent.stderr!.on('data', (c: Buffer) => (agentLog += c.toString()));

  const roomId = await joinDeviceRoom(alice.client, `@ha.attic-pi:${gateway.server.serverName}`);
  t.like(stateContent(alice.client, roomId, 'org.hearth.device'), { name: 'Attic Pi', model: 'Raspberry Pi 4' });

  // 45678 millidegrees; a decimal string in the event, as Matrix's canonical JSON has no floats.
  const state = await waitForState(alice.client, roomId, 'org.hearth.sensor', 'cpu_temperature', (c) => c.value === '45.678');
  t.like(state, { value: '45.678', unit: '°C', device_class: 'temperature' });
  // The sensors are read together and published as one reading: the one that carried the zone's
  // value was the poll in which both DS18B20 reads were refused.
  t.is(stateContent(alice.client, roomId, 'org.hearth.sensor', 'crc_failing')?.value, undefined);
  t.is(stateContent(alice.client, roomId, 'org.hearth.sensor', 'powering_up')?.value, undefined);
  t.regex(agentLog, /crc_failing: bad read skipped: CRC mismatch/);
  t.regex(agentLog, /powering_up: bad read skipped: 85 °C power-on reset value/);
});
