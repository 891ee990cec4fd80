/**
 * `hearth doctor` and a damaged database (issue 10, finding 4): a table file cut short makes the
 * gateway refuse to start with the repair path in its message; the doctor names the damage (exit 1),
 * `--repair` copies the database aside and repairs it (exit 0), and the gateway starts and writes
 * again. A healthy database is reported as such, and a running gateway's database is left alone.
 */
import test from 'ava';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Database } from '../../src/storage/db.js';
import { freePort, startHearth } from './helpers/server.js';
import { request, registerUser } from './helpers/http.js';

const REPO_ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));

/** `hearth ARGS` on `dataDir`, with free ports (the port check must not meet another test's, or a Mosquitto on 1883). */
async function hearth(args: string[], dataDir: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const ports = { HEARTH_CLIENT_PORT: String(await freePort()), HEARTH_MQTT_PORT: String(await freePort()), HEARTH_FEDERATION_PORT: String(await freePort()) };
  return new Promise((done) => {
    execFile(process.execPath, ['bin/hearth.js', ...args], { cwd: REPO_ROOT, env: { ...process.env, ...ports, HEARTH_DATA_DIR: dataDir }, timeout: 60_000 }, (err, stdout, stderr) =>
      done({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

async function dataDirWithTables(t: { teardown(fn: () => void): void }): Promise<string> {
  const dataDir = mkdtempSync(join(tmpdir(), 'hearth-doctor-'));
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }));
  const db = await Database.open(join(dataDir, 'db'), { cacheSizeBytes: 1 << 20, writeBufferSizeBytes: 64 * 1024 });
  for (let i = 0; i < 40; i++) {
    await db.write(Array.from({ length: 20 }, (_, j) => db.putJson('meta', Buffer.from(`filler-${i}-${j}`), 'x'.repeat(500))));
  }
  await db.close();
  return dataDir;
}

function cutATable(dataDir: string): string {
  const dbPath = join(dataDir, 'db');
  const table = readdirSync(dbPath).filter((n) => n.endsWith('.ldb')).sort()[0]!;
  truncateSync(join(dbPath, table), Math.floor(statSync(join(dbPath, table)).size / 2));
  return table;
}

test('a healthy database: doctor says ok and exits 0', async (t) => {
  const dataDir = await dataDirWithTables(t);
  const res = await hearth(['doctor'], dataDir);
  t.is(res.code, 0, res.stderr);
  t.regex(res.stdout, /^ok +database +\d+ entries in [1-9]\d* table files, no damage found$/m);
});

test('a table cut short: the gateway refuses to start, doctor finds it, --repair fixes it, the gateway writes again', async (t) => {
  const dataDir = await dataDirWithTables(t);
  const table = cutATable(dataDir);

  const [client, mqtt, fed] = [await freePort(), await freePort(), await freePort()];
  const start = await new Promise<{ code: number | null; stderr: string }>((done) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'run'], {
      cwd: REPO_ROOT,
      env: { ...process.env, HEARTH_DATA_DIR: dataDir, HEARTH_CLIENT_PORT: String(client), HEARTH_MQTT_PORT: String(mqtt), HEARTH_FEDERATION_PORT: String(fed) },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.once('exit', (code) => done({ code, stderr }));
  });
  t.is(start.code, 1);
  t.regex(start.stderr, new RegExp(`the database at .* is damaged:\\n  table ${table}: \\d+ bytes: no table footer`));
  t.regex(start.stderr, /hearth doctor --repair/);

  const diagnosis = await hearth(['doctor'], dataDir);
  t.is(diagnosis.code, 1);
  t.regex(diagnosis.stdout, new RegExp(`^ERROR +database +table ${table}: \\d+ bytes: no table footer`, 'm'));
  t.regex(diagnosis.stdout, /-> stop the gateway, then run "hearth doctor --repair"/);

  const repaired = await hearth(['doctor', '--repair'], dataDir);
  t.is(repaired.code, 0, repaired.stdout + repaired.stderr);
  t.regex(repaired.stdout, /copied the database to .*db\.before-repair-/);
  t.regex(repaired.stdout, /after repair:\nok +database +\d+ entries in \d+ table files, no damage found\n/);
  t.true(readdirSync(dataDir).some((n) => n.startsWith('db.before-repair-')), 'the damaged copy is kept');

  const server = await startHearth({ t, env: { HEARTH_DATA_DIR: dataDir } });
  const user = await registerUser(server.baseUrl, 'after-repair', 'pw-after-repair');
  const room = await request(server.baseUrl, 'POST', '/_matrix/client/v3/createRoom', { token: user.accessToken, json: {} });
  t.is(room.status, 200, 'writes work on the repaired database');
  // Running: the files are left alone (checked with the gateway stopped), --repair refused.
  const busy = await hearth(['doctor'], dataDir);
  t.regex(busy.stdout, /^info +database +the running gateway holds .*: its files are checked with the gateway stopped$/m);
  const busyRepair = await hearth(['doctor', '--repair'], dataDir);
  t.is(busyRepair.code, 2);
  t.regex(busyRepair.stderr, /in use: stop the gateway first/);
});
