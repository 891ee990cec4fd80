/**
 * The gateway image as a user installs it (issue 14): `firmware-gateway/build.sh` builds the single
 * executable, which is copied into an empty folder and run there under `env -i`, so nothing can come
 * from the repository's node_modules (a module loaded at run time once made it die outside the
 * repository). Through that executable alone: `hearth user add`, `hearth run`, `hearth device add`
 * against the running gateway, a Matrix room with a message read back, the status page (embedded at
 * build time), and an MQTT round trip.
 *
 * The build takes a few seconds (esbuild, the SEA blob, postject), so the test builds into its own
 * temp folder each time rather than trusting a possibly stale `firmware-gateway/out/hearth`.
 */
import test from 'ava';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import mqtt from 'mqtt';
import sharp from 'sharp';
import { freePort } from '../integration/helpers/server.js';

const REPO_ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const run = promisify(execFile);
const READY_TIMEOUT_MS = 60_000;

/** Builds the executable into a fresh temp folder and returns its path. */
async function buildImage(outDir: string): Promise<string> {
  await run('bash', ['firmware-gateway/build.sh', '--out', outDir], { cwd: REPO_ROOT, maxBuffer: 16 * 1024 * 1024 });
  return join(outDir, 'hearth');
}

interface Installed {
  /** The empty folder holding only the executable (and, once it ran, `./data`). */
  dir: string;
  /** The whole environment the executable gets: `env -i` plus these. */
  env: Record<string, string>;
  clientPort: number;
  mqttPort: number;
}

/** `env -i NAME=VALUE... ./hearth ARGS` in the install folder. */
function envArgs(installed: Installed, args: string[]): string[] {
  return ['-i', ...Object.entries(installed.env).map(([k, v]) => `${k}=${v}`), './hearth', ...args];
}

async function hearthCommand(installed: Installed, args: string[]): Promise<string> {
  const { stdout } = await run('/usr/bin/env', envArgs(installed, args), { cwd: installed.dir });
  return stdout;
}

function startGateway(installed: Installed): { child: ChildProcess; output: () => string } {
  const child = spawn('/usr/bin/env', envArgs(installed, ['run']), { cwd: installed.dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  return { child, output: () => output };
}

async function waitUntilServing(baseUrl: string, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`hearth exited before serving:\n${output()}`);
    try {
      if ((await fetch(`${baseUrl}/_matrix/client/versions`)).status === 200) return;
    } catch {
      // Not listening yet.
    }
    await new Promise((done) => setTimeout(done, 100));
  }
  throw new Error(`hearth did not answer /versions within ${READY_TIMEOUT_MS} ms:\n${output()}`);
}

async function stopGateway(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((done) => child.once('exit', done));
  child.kill('SIGTERM');
  const hung = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(hung);
}

async function matrix<T>(baseUrl: string, method: string, path: string, token: string | undefined, body?: unknown): Promise<T> {
  const res = await fetch(`${baseUrl}${path}`, {
    method,
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return JSON.parse(text) as T;
}

test('the built executable, alone in an empty folder under env -i: chat, a thumbnail and an MQTT round trip', async (t) => {
  t.timeout(180_000);
  const work = mkdtempSync(join(tmpdir(), 'hearth-image-'));
  t.teardown(() => rmSync(work, { recursive: true, force: true }));
  const executable = await buildImage(join(work, 'build'));

  const dir = join(work, 'install');
  const home = join(work, 'home');
  mkdirSync(dir);
  mkdirSync(home);
  copyFileSync(executable, join(dir, 'hearth'));
  cpSync(join(work, 'build', 'node_modules'), join(dir, 'node_modules'), { recursive: true });
  // Everything on loopback: the image's defaults open MQTT and federation on all interfaces.
  mkdirSync(join(dir, 'data'), { mode: 0o700 });
  writeFileSync(join(dir, 'data', 'hearth.yaml'), 'federation:\n  bind_address: 127.0.0.1\nmqtt:\n  bind_address: 127.0.0.1\n', { mode: 0o600 });
  const [clientPort, federationPort, mqttPort] = [await freePort(), await freePort(), await freePort()];
  const installed: Installed = {
    dir,
    clientPort,
    mqttPort,
    // The data directory is the default, ./data of the folder the executable runs in.
    env: {
      HOME: home,
      HEARTH_CLIENT_PORT: String(clientPort),
      HEARTH_FEDERATION_PORT: String(federationPort),
      HEARTH_MQTT_PORT: String(mqttPort),
    },
  };

  // The first account, with the gateway stopped (the command opens the database itself).
  const added = await hearthCommand(installed, ['user', 'add', 'alice', '--admin', '--password', 'image-test-pw-1']);
  t.regex(added, new RegExp(`@alice:localhost:${clientPort}`));

  const gateway = startGateway(installed);
  t.teardown(() => stopGateway(gateway.child));
  const baseUrl = `http://127.0.0.1:${clientPort}`;
  await waitUntilServing(baseUrl, gateway.child, gateway.output);

  // Chat: log in, make a room, send a message, read it back.
  const login = await matrix<{ access_token: string; user_id: string }>(baseUrl, 'POST', '/_matrix/client/v3/login', undefined, {
    type: 'm.login.password',
    identifier: { type: 'm.id.user', user: 'alice' },
    password: 'image-test-pw-1',
  });
  t.is(login.user_id, `@alice:localhost:${clientPort}`);
  const token = login.access_token;
  const { room_id: roomId } = await matrix<{ room_id: string }>(baseUrl, 'POST', '/_matrix/client/v3/createRoom', token, { name: 'Kitchen' });
  const body = 'hello from the gateway image';
  const { event_id: eventId } = await matrix<{ event_id: string }>(
    baseUrl,
    'PUT',
    `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/txn-image-1`,
    token,
    { msgtype: 'm.text', body },
  );
  const messages = await matrix<{ chunk: { event_id: string; type: string; content: { body?: string } }[] }>(
    baseUrl,
    'GET',
    `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/messages?dir=b&limit=10`,
    token,
  );
  const sent = messages.chunk.find((e) => e.event_id === eventId);
  t.is(sent?.type, 'm.room.message');
  t.is(sent?.content.body, body);

  // A photo's thumbnail: the image library loads from node_modules beside the executable.
  const photo = await sharp({ create: { width: 1200, height: 900, channels: 3, background: '#4080c0' } }).jpeg().toBuffer();
  const upload = await fetch(`${baseUrl}/_matrix/media/v3/upload`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'image/jpeg' }, body: photo });
  const mxc = ((await upload.json()) as { content_uri: string }).content_uri;
  const thumb = await fetch(`${baseUrl}/_matrix/client/v1/media/thumbnail/${mxc.slice('mxc://'.length)}?width=96&height=96&method=crop`, { headers: { authorization: `Bearer ${token}` } });
  const thumbBytes = Buffer.from(await thumb.arrayBuffer());
  t.is(thumb.status, 200, `${thumbBytes.toString('utf8', 0, 200)}\n${gateway.output()}`);
  t.is(thumb.headers.get('content-type'), 'image/jpeg');
  const decoded = await sharp(thumbBytes).metadata();
  t.deepEqual([decoded.format, decoded.width, decoded.height], ['jpeg', 96, 96]);

  // The status page, embedded in the executable (nothing to read beside it): the HTML, the script
  // and stylesheet it names, and the admin's data API.
  const page = await fetch(`${baseUrl}/`);
  t.is(page.status, 200);
  const html = await page.text();
  const assets = [...html.matchAll(/(?:src|href)="(\/_hearth\/status\/assets\/[^"]+)"/g)].map((m) => m[1]!);
  t.is(assets.length, 2, html);
  for (const asset of assets) {
    const res = await fetch(`${baseUrl}${asset}`);
    t.is(res.status, 200, asset);
    t.true((await res.text()).length > 1000, asset);
  }
  const panel = await matrix<{ server_name: string }>(baseUrl, 'GET', '/_hearth/status/v1/gateway', token);
  t.is(panel.server_name, `localhost:${clientPort}`);

  // A device, created through the running gateway's admin socket.
  const device = JSON.parse(await hearthCommand(installed, ['device', 'add', 'kitchen-sensor', '--json'])) as {
    username: string;
    password: string;
    port: number;
  };
  t.is(device.username, 'kitchen-sensor');
  t.is(device.port, mqttPort);

  // MQTT round trip on the device's own topics: through the broker and its LevelDB-backed persistence.
  const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${mqttPort}`, {
    username: device.username,
    password: device.password,
    clientId: 'kitchen-sensor-image-test',
    clean: false,
    reconnectPeriod: 0,
  });
  t.teardown(() => client.endAsync());
  const received = new Promise<{ topic: string; payload: string }>((done) =>
    client.once('message', (topic, payload) => done({ topic, payload: payload.toString('utf8') })),
  );
  const granted = await client.subscribeAsync('kitchen-sensor/#', { qos: 1 });
  t.is(granted[0]?.qos, 1);
  await client.publishAsync('kitchen-sensor/temperature', '21.5', { qos: 1 });
  t.deepEqual(await received, { topic: 'kitchen-sensor/temperature', payload: '21.5' });

  await client.endAsync();
  await stopGateway(gateway.child);
  t.is(gateway.child.exitCode, 0, gateway.output());
});
