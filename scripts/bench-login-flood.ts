/**
 * Send latency during a wrong-password login flood (issue 10, finding 3): a gateway with one user
 * sending messages one after another, and 200 parallel logins with wrong passwords for another
 * account. Reports send p50/p95 alone and during the flood, their ratio, and how the logins were
 * answered. Run it against a checkout of an older commit to compare (`--repo DIR`, whose
 * `src/cli/main.ts run` is started through tsx).
 *
 *   node --import tsx scripts/bench-login-flood.ts [--repo DIR] [--rate-limits on|off]
 *
 * `--rate-limits off` (HEARTH_RATE_LIMITS=off, the default here) measures the hashing queue alone;
 * `on` the default login limits (rc_login), which refuse most of a single address's flood at once
 * (rc_message and rc_registration are raised so the benchmark's own sends are not limited).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { JsonHttpClient } from './lib/http-client.js';
import { freePort } from './lib/processes.js';
import { formatNumber, percentile } from './lib/stats.js';

const FLOOD = 200;
const SENDS = 40;
const SEND_INTERVAL_MS = 50;

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

async function startGateway(repo: string, rateLimits: string): Promise<{ baseUrl: string; child: ChildProcess; dataDir: string }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'hearth-flood-'));
  // With rate limits on, the login limits stay at their defaults; the benchmark's own sends and
  // registrations are not what is measured.
  writeFileSync(
    join(dataDir, 'hearth.yaml'),
    'rate_limits:\n  rc_message: { per_second: 1000, burst_count: 1000 }\n  rc_registration: { per_second: 1000, burst_count: 1000 }\n',
    { mode: 0o600 },
  );
  const [client, mqtt, fed] = [await freePort(), await freePort(), await freePort()];
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'run'], {
    cwd: repo,
    env: {
      ...process.env,
      HEARTH_DATA_DIR: dataDir,
      HEARTH_CLIENT_PORT: String(client),
      HEARTH_MQTT_PORT: String(mqtt),
      HEARTH_FEDERATION_PORT: String(fed),
      HEARTH_REGISTRATION: 'open',
      HEARTH_RATE_LIMITS: rateLimits,
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const baseUrl = `http://127.0.0.1:${client}`;
  for (let i = 0; i < 600; i++) {
    const ok = await fetch(`${baseUrl}/_matrix/client/versions`).then((r) => r.ok, () => false);
    if (ok) return { baseUrl, child, dataDir };
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  throw new Error('the gateway did not start');
}

async function register(http: JsonHttpClient, username: string, password: string): Promise<string> {
  const res = await http.request('POST', '/_matrix/client/v3/register', { username, password, auth: { type: 'm.login.dummy' } });
  if (res.status !== 200) throw new Error(`register ${username}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.access_token as string;
}

/**
 * Open loop: a send every `SEND_INTERVAL_MS`, each timed on its own, so one stalled send does not
 * hide the others (a closed loop would issue one send while the flood lasts).
 */
async function timedSends(http: JsonHttpClient, token: string, roomId: string, label: string, minCount: number, whileActive: () => boolean = () => false): Promise<number[]> {
  const sends: Promise<number>[] = [];
  for (let i = 0; i < minCount || whileActive(); i++) {
    const start = performance.now();
    sends.push(
      http.request('PUT', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/${label}-${i}`, { msgtype: 'm.text', body: `${label} ${i}` }, token).then((res) => {
        if (res.status !== 200) throw new Error(`send: ${res.status} ${JSON.stringify(res.body)}`);
        return performance.now() - start;
      }),
    );
    await new Promise((r) => setTimeout(r, SEND_INTERVAL_MS));
  }
  return Promise.all(sends);
}

async function main(): Promise<void> {
  const repo = resolve(arg('--repo', resolve(fileURLToPath(new URL('..', import.meta.url)))));
  const rateLimits = arg('--rate-limits', 'off');
  const gateway = await startGateway(repo, rateLimits);
  try {
    const http = new JsonHttpClient(gateway.baseUrl);
    const sender = await register(http, 'sender', 'sender-password');
    await register(http, 'target', 'target-password');
    const room = await http.request('POST', '/_matrix/client/v3/createRoom', {}, sender);
    const roomId = room.body.room_id as string;
    await timedSends(http, sender, roomId, 'warmup', 20);
    const quiet = await timedSends(http, sender, roomId, 'quiet', SENDS);

    // The flood: its own connections (a fresh fetch each), all at once.
    const statuses = new Map<number, number>();
    let answered = 0;
    const floodStart = performance.now();
    const flood = Array.from({ length: FLOOD }, (_, i) =>
      fetch(`${gateway.baseUrl}/_matrix/client/v3/login`, {
        method: 'POST',
        body: JSON.stringify({ type: 'm.login.password', identifier: { type: 'm.id.user', user: 'target' }, password: `wrong-${i}` }),
      }).then(async (res) => {
        await res.arrayBuffer();
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        answered++;
      }),
    );
    const during = await timedSends(http, sender, roomId, 'flood', 20, () => answered < FLOOD);
    await Promise.all(flood);
    const floodMs = performance.now() - floodStart;

    const p = (xs: number[], q: number) => formatNumber(percentile(xs, q), 1);
    const ratio = percentile(during, 50) / percentile(quiet, 50);
    process.stdout.write(
      [
        `repo ${repo} (rate limits ${rateLimits})`,
        `send p50 alone:        ${p(quiet, 50)} ms (p95 ${p(quiet, 95)} ms, ${quiet.length} sends)`,
        `send p50 during flood: ${p(during, 50)} ms (p95 ${p(during, 95)} ms, ${during.length} sends)`,
        `ratio (during / alone): ${formatNumber(ratio, 1)}x`,
        `flood: ${FLOOD} wrong-password logins answered in ${formatNumber(floodMs, 0)} ms: ${[...statuses].map(([s, n]) => `${n}x ${s}`).join(', ')}`,
        '',
      ].join('\n'),
    );
  } finally {
    gateway.child.kill('SIGTERM');
    await new Promise((r) => gateway.child.once('exit', r));
    rmSync(gateway.dataDir, { recursive: true, force: true });
  }
}

await main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
