/**
 * `make run` on a fresh data directory (issue 14): what a new user reads is the gateway's own
 * output (where it listens, then the next step: registration is closed, `npx hearth user add NAME
 * --admin`), not the long allocator/V8 command line. Runs the real target on free ports.
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../integration/helpers/server.js';

const REPO_ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const NEXT_STEP = 'npx hearth user add NAME --admin';

test('make run prints a short start line, where the gateway listens and how to add the first admin', async (t) => {
  t.timeout(180_000);
  const dataDir = mkdtempSync(join(tmpdir(), 'hearth-make-run-'));
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }));
  const [client, federation, mqtt] = [await freePort(), await freePort(), await freePort()];
  const { HEARTH_SERVER_NAME: _unset, HEARTH_REGISTRATION: _default, ...inherited } = process.env;
  // Its own process group: make and the gateway it starts are stopped together.
  // `-o`: never remake node_modules here (a stamp older than package.json, as in a fresh worktree,
  // would run `npm ci` under every other test of the suite); `make test` installed it already.
  const child = spawn('make', ['--no-print-directory', '-o', 'node_modules/.package-lock.json', 'run'], {
    cwd: REPO_ROOT,
    detached: true,
    env: { ...inherited, HEARTH_DATA_DIR: dataDir, HEARTH_CLIENT_PORT: String(client), HEARTH_FEDERATION_PORT: String(federation), HEARTH_MQTT_PORT: String(mqtt) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise((done) => child.once('exit', done));
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) process.kill(-child.pid!, 'SIGTERM');
    await exited;
  });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  await new Promise<void>((done, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
      if (stdout.includes(NEXT_STEP)) done();
    });
    child.once('exit', (code) => reject(new Error(`make run exited (${code}) before the next step:\n${stdout}\n${stderr}`)));
  });

  const lines = stdout.split('\n');
  t.true(lines.includes("starting the gateway (dist/hearth.mjs; memory settings in the Makefile); Ctrl-C stops it"), stdout);
  t.true(lines.some((l) => l.startsWith(`hearth: listening on http://127.0.0.1:${client} (server name localhost:${client}), MQTT on port ${mqtt}`)), stdout);
  t.true(
    lines.includes(
      `hearth: no accounts yet, and registration is closed. Next: HEARTH_DATA_DIR=${dataDir} ${NEXT_STEP} (prints the password), then log in with a Matrix client at http://127.0.0.1:${client}`,
    ),
    stdout,
  );
  // The recipe itself is not echoed.
  t.false(/MALLOC_|--max-semi-space-size|LD_PRELOAD/.test(stdout + stderr), stdout + stderr);
});
