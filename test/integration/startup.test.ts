/**
 * Starting the gateway: a port already taken makes it exit non-zero with a message naming the port
 * and the setting that moves it (it used to print EADDRINUSE and hang), and the data directory is
 * private to the gateway's user (0700, files 0600), including one an older version left 0755/0644.
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, startHearth } from './helpers/server.js';

const REPO_ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));

function occupy(port: number): Promise<Server> {
  return new Promise((done, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => done(server));
  });
}

/** Runs `hearth run` to its exit (the ava timeout catches a hang) and returns its code and output. */
function runUntilExit(env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'run'], {
      cwd: REPO_ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.stdout.resume();
    child.once('exit', (code) => done({ code, stderr }));
  });
}

async function baseEnv(dataDir: string) {
  const [client, mqtt, federation] = [await freePort(), await freePort(), await freePort()];
  return {
    client,
    mqtt,
    env: {
      HEARTH_DATA_DIR: dataDir,
      HEARTH_CLIENT_PORT: String(client),
      HEARTH_MQTT_PORT: String(mqtt),
      HEARTH_FEDERATION_PORT: String(federation),
    },
  };
}

test('a client port in use: exits 1 naming the port and client.port', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'hearth-port-'));
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }));
  const { client, env } = await baseEnv(dataDir);
  const squatter = await occupy(client);
  t.teardown(() => squatter.close());
  const { code, stderr } = await runUntilExit(env);
  t.is(code, 1, stderr);
  t.regex(stderr, new RegExp(`port ${client} \\(the Client-Server API, 127\\.0\\.0\\.1:${client}\\) is already in use`));
  t.regex(stderr, /set client\.port in hearth\.yaml \(or HEARTH_CLIENT_PORT\)/);
});

test('an MQTT port in use: exits 1 naming the port and mqtt.port', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'hearth-port-'));
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }));
  const { mqtt, env } = await baseEnv(dataDir);
  // The broker binds 0.0.0.0 by default; a squatter on the same port there refuses it.
  const squatter = await new Promise<Server>((done, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(mqtt, '0.0.0.0', () => done(s));
  });
  t.teardown(() => squatter.close());
  const { code, stderr } = await runUntilExit(env);
  t.is(code, 1, stderr);
  t.regex(stderr, new RegExp(`port ${mqtt} \\(the MQTT broker, 0\\.0\\.0\\.0:${mqtt}\\) is already in use`));
  t.regex(stderr, /set mqtt\.port in hearth\.yaml \(or HEARTH_MQTT_PORT\)/);
});

function modesUnder(dir: string): Map<string, number> {
  const out = new Map<string, number>();
  const visit = (path: string) => {
    const st = statSync(path);
    out.set(path, st.mode & 0o777);
    if (st.isDirectory()) for (const name of readdirSync(path)) visit(join(path, name));
  };
  visit(dir);
  return out;
}

test('the data directory is 0700 with 0600 files, and an old 0755/0644 one is tightened', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'hearth-perm-'));
  // As an older Hearth left it: world-readable directories and files.
  chmodSync(dataDir, 0o755);
  mkdirSync(join(dataDir, 'media'), { mode: 0o755 });
  chmodSync(join(dataDir, 'media'), 0o755);
  writeFileSync(join(dataDir, 'media', 'old-upload'), 'x');
  chmodSync(join(dataDir, 'media', 'old-upload'), 0o644);
  const server = await startHearth({ t, env: { HEARTH_DATA_DIR: dataDir } });
  // A user and a message, so LevelDB writes its log and the media store exists.
  const reg = await fetch(`${server.baseUrl}/_matrix/client/v3/register`, {
    method: 'POST',
    body: JSON.stringify({ username: 'perm', password: 'pw-perm-1', auth: { type: 'm.login.dummy' } }),
  });
  t.is(reg.status, 200);
  const modes = modesUnder(dataDir);
  t.true(modes.size > 5, [...modes.keys()].join('\n'));
  const open: string[] = [];
  for (const [path, mode] of modes) if ((mode & 0o077) !== 0) open.push(`${path} ${mode.toString(8)}`);
  t.deepEqual(open, [], 'nothing readable by group or others');
  t.is(modes.get(dataDir), 0o700);
  t.is(modes.get(join(dataDir, 'db')), 0o700);
  t.is(modes.get(join(dataDir, 'media', 'old-upload')), 0o600);
  t.is(modes.get(join(dataDir, 'hearth.yaml')), 0o600);
});
