/**
 * The server name is fixed in the data directory on first start (issue 14): the same data started
 * with another client port keeps its name (the default name follows the client port, and existing
 * users could no longer log in), and a configured name that differs from the recorded one is refused
 * at start with both names and what to change. Spawns the real gateway.
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, startHearth } from './helpers/server.js';

const REPO_ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));

/** Runs `hearth ARGS` from the sources to its exit, with the server name left to the data directory. */
function hearth(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const { HEARTH_SERVER_NAME: _unset, ...inherited } = process.env;
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
      cwd: REPO_ROOT,
      env: { ...inherited, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.once('exit', (code) => done({ code, stdout, stderr }));
  });
}

async function ports() {
  const [client, federation, mqtt] = [await freePort(), await freePort(), await freePort()];
  return { HEARTH_CLIENT_PORT: String(client), HEARTH_FEDERATION_PORT: String(federation), HEARTH_MQTT_PORT: String(mqtt) };
}

async function login(baseUrl: string, user: string, password: string): Promise<{ status: number; userId?: string }> {
  const res = await fetch(`${baseUrl}/_matrix/client/v3/login`, {
    method: 'POST',
    body: JSON.stringify({ type: 'm.login.password', identifier: { type: 'm.id.user', user }, password }),
  });
  const body = (await res.json()) as { user_id?: string };
  return { status: res.status, ...(body.user_id ? { userId: body.user_id } : {}) };
}

function newDataDir(t: { teardown(fn: () => void): void }): string {
  const dataDir = mkdtempSync(join(tmpdir(), 'hearth-server-name-'));
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }));
  return dataDir;
}

test('no server_name configured: a later start on another client port keeps the recorded name, and users log in', async (t) => {
  const dataDir = newDataDir(t);
  const first = await ports();
  const added = await hearth(['user', 'add', 'alice', '--password', 'name-test-pw-1'], { HEARTH_DATA_DIR: dataDir, ...first });
  t.is(added.code, 0, added.stderr);
  t.regex(added.stdout, new RegExp(`@alice:localhost:${first.HEARTH_CLIENT_PORT}`));

  // Another client port, nothing else configured: the default name would now be another one.
  const server = await startHearth({ t, env: { HEARTH_DATA_DIR: dataDir, HEARTH_SERVER_NAME: '' } });
  t.not(String(server.port), first.HEARTH_CLIENT_PORT);
  const result = await login(server.baseUrl, 'alice', 'name-test-pw-1');
  t.deepEqual(result, { status: 200, userId: `@alice:localhost:${first.HEARTH_CLIENT_PORT}` });
});

test('server_name set in hearth.yaml after the first start: refused, naming both names and the fix', async (t) => {
  const dataDir = newDataDir(t);
  const env = { HEARTH_DATA_DIR: dataDir, ...(await ports()) };
  const added = await hearth(['user', 'add', 'alice', '--password', 'name-test-pw-1'], env);
  t.is(added.code, 0, added.stderr);
  const recorded = `localhost:${env.HEARTH_CLIENT_PORT}`;

  writeFileSync(join(dataDir, 'hearth.yaml'), 'server_name: home.example\n', { mode: 0o600 });
  const started = await hearth(['run'], env);
  t.is(started.code, 1, started.stderr);
  t.true(
    started.stderr.includes(
      `hearth: the data directory ${dataDir} belongs to the server name "${recorded}", but server_name in ${dataDir}/hearth.yaml is "home.example".`,
    ),
    started.stderr,
  );
  t.true(started.stderr.includes(`set server_name: "${recorded}" in ${dataDir}/hearth.yaml (or remove the line)`), started.stderr);
  // `user add` refuses the same way rather than creating @bob:home.example in alice's server.
  const bob = await hearth(['user', 'add', 'bob', '--password', 'name-test-pw-2'], env);
  t.is(bob.code, 1);
  t.regex(bob.stderr, /belongs to the server name/);
});

test('HEARTH_SERVER_NAME differing from the recorded name: refused, naming the variable', async (t) => {
  const dataDir = newDataDir(t);
  const env = { HEARTH_DATA_DIR: dataDir, ...(await ports()) };
  writeFileSync(join(dataDir, 'hearth.yaml'), 'server_name: home.example\n', { mode: 0o600 });
  const added = await hearth(['user', 'add', 'alice', '--password', 'name-test-pw-1'], env);
  t.is(added.code, 0, added.stderr);
  t.regex(added.stdout, /@alice:home\.example/);

  const started = await hearth(['run'], { ...env, HEARTH_SERVER_NAME: 'other.example' });
  t.is(started.code, 1, started.stderr);
  t.true(started.stderr.includes('belongs to the server name "home.example", but HEARTH_SERVER_NAME is "other.example"'), started.stderr);
  t.true(started.stderr.includes('set HEARTH_SERVER_NAME=home.example (or unset it)'), started.stderr);
});
