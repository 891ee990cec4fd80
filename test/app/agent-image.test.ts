/**
 * The device agent's single executable as a user installs it (issue 14): `devices/build-agent.sh`
 * builds it, it is copied into an empty folder with its config (a thermal zone tree in the kernel's
 * format and a command driver) and run there under `env -i`, so nothing can come from the
 * repository's node_modules. It generates its signing key, the gateway (spawned from the sources)
 * learns it at `hearth device add --public-key`, and its signed readings arrive in the device room's
 * state and the sensor's history.
 *
 * The build takes a few seconds (esbuild, the SEA blob, postject); it runs once per file, in
 * `test.before`, beside the gateway's start, and the tests share the executable.
 */
import test from 'ava';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { silenceSdk } from '../integration/helpers/sdk.js';
import { startMqttGateway, type MqttGateway } from '../integration/mqtt-helpers/gateway.js';
import { joinDeviceRoom, startPerson, telemetry, waitForState, type Person } from '../integration/mqtt-helpers/matrix.js';

silenceSdk();

const REPO_ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const run = promisify(execFile);
const work = mkdtempSync(join(tmpdir(), 'hearth-agent-image-'));
let executable: string;
let gateway: MqttGateway;
let alice: Person;
let agent: ChildProcess | undefined;
let agentOutput = '';

test.before(async () => {
  const built = run('bash', ['devices/build-agent.sh', '--out', join(work, 'build')], { cwd: REPO_ROOT, maxBuffer: 16 * 1024 * 1024 });
  gateway = await startMqttGateway();
  alice = await startPerson(gateway, 'alice', 'alice password', { admin: true });
  await built;
  executable = join(work, 'build', 'hearth-agent');
});

test.after.always(async () => {
  if (agent && agent.exitCode === null && agent.signalCode === null) {
    const exited = new Promise((done) => agent!.once('exit', done));
    agent.kill('SIGTERM');
    await exited;
  }
  alice?.client.stopClient();
  await gateway?.stop();
  rmSync(work, { recursive: true, force: true });
});

/** A folder holding only the executable (plus what the test puts there), and `env -i` for it. */
function install(name: string): { dir: string; env: string[] } {
  const dir = join(work, name);
  mkdirSync(dir);
  copyFileSync(executable, join(dir, 'hearth-agent'));
  const home = join(work, `${name}-home`);
  mkdirSync(home);
  return { dir, env: ['-i', `HOME=${home}`] };
}

test.serial('the agent executable, alone in an empty folder under env -i, signs readings that reach room state and history', async (t) => {
  const { dir, env } = install('install');
  cpSync(join(REPO_ROOT, 'test/devices/fixtures/thermal'), join(dir, 'thermal'), { recursive: true });
  writeFileSync(
    join(dir, 'agent.yaml'),
    `broker: mqtt://127.0.0.1:${gateway.server.mqttPort}
credentials_file: credentials.json
device: { id: shed-pi, name: Shed Pi, model: Raspberry Pi 3 }
convention: homeassistant
queue_dir: state/queue
sensors:
  - { key: cpu_temperature, driver: thermal_zone, root: thermal, zone: cpu-thermal, interval_seconds: 1, unit: °C }
  - { key: gpu_temperature, driver: command, command: [/bin/echo, "temp=48.3'C"], pattern: "temp=([0-9.]+)", interval_seconds: 1, unit: °C }
`,
  );
  writeFileSync(join(dir, 'credentials.json'), JSON.stringify({ username: 'shed-pi', password: 'set below' }));

  const { stdout } = await run('/usr/bin/env', [...env, './hearth-agent', '--config', 'agent.yaml', '--public-key'], { cwd: dir });
  const publicKey = stdout.trim();
  t.regex(publicKey, /^[A-Za-z0-9+/]{43}$/);
  const credentials = await gateway.addDevice('shed-pi', ['--public-key', publicKey]);
  t.is(credentials.signing, 'signed');
  writeFileSync(join(dir, 'credentials.json'), JSON.stringify(credentials), { mode: 0o600 });

  agent = spawn('/usr/bin/env', [...env, './hearth-agent', '--config', 'agent.yaml'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  agent.stdout!.on('data', (c: Buffer) => (agentOutput += c.toString()));
  agent.stderr!.on('data', (c: Buffer) => (agentOutput += c.toString()));
  t.teardown(() => {
    if (!t.passed) t.log(agentOutput, gateway.server.output());
  });

  const roomId = await joinDeviceRoom(alice.client, `@ha.shed-pi:${gateway.server.serverName}`, 30_000);
  await waitForState(alice.client, roomId, 'org.hearth.sensor', 'cpu_temperature', (c) => c.value === '45.678', 30_000);
  await waitForState(alice.client, roomId, 'org.hearth.sensor', 'gpu_temperature', (c) => c.value === '48.3', 30_000);
  const { status, body } = await telemetry(gateway.server.baseUrl, alice.accessToken, roomId, 'gpu_temperature', { resolution: 'raw' });
  t.is(status, 200);
  t.true((body.points as Array<{ value: number }>).some((p) => p.value === 48.3));
  t.regex(agentOutput, new RegExp(`signing with ed25519 key ${publicKey.replace(/[+/]/g, '\\$&')}`));

  // SIGTERM: it says goodbye and exits cleanly.
  const exited = new Promise<number | null>((done) => agent!.once('exit', (code) => done(code)));
  agent.kill('SIGTERM');
  t.is(await exited, 0, agentOutput);
});

test.serial('a wrong config stops the executable with exit 78 and the field that is wrong', async (t) => {
  const { dir, env } = install('bad-config');
  writeFileSync(join(dir, 'agent.yaml'), 'device: { id: x }\nsensors: []\nbogus: 1\n');
  const failed = await run('/usr/bin/env', [...env, './hearth-agent', '--config', 'agent.yaml'], { cwd: dir }).then(
    () => undefined,
    (err: { code: number; stderr: string }) => err,
  );
  t.is(failed?.code, 78);
  t.regex(failed?.stderr ?? '', /unknown setting "bogus"/);
});
