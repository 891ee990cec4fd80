/**
 * Issue 10 finding 5, measured: one device publishes N retained messages of S bytes (default 5,000
 * x 60 KB, QoS 1) on distinct topics; the gateway's RSS is read before, after, and right after a
 * restart on the same data directory, and a subscriber counts what is retained.
 *
 *   npx tsx scripts/mqtt-retained-rss.ts [count] [bytes] [--uncapped]
 *
 * `--uncapped` raises the `mqtt.retained` caps above what is sent (every message is retained), to
 * measure what retaining costs rather than what the caps refuse.
 * The gateway runs as `make run` runs it (GATEWAY_ALLOCATOR_ENV, the Makefile's node flags), from
 * the sources through tsx.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import mqtt from 'mqtt';
import { freePort, GATEWAY_ALLOCATOR_ENV } from './lib/processes.js';
import { rssBytes } from './lib/proc.js';

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
const COUNT = Number(process.argv[2] ?? 5000);
const BYTES = Number(process.argv[3] ?? 60_000);
/** PUBLISHes in flight at once: enough to keep the socket busy, few enough not to measure the client. */
const WINDOW = 32;
const UNCAPPED = process.argv.includes('--uncapped');

const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function startGateway(dataDir: string, env: NodeJS.ProcessEnv): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--max-semi-space-size=2', '--expose-gc', '--import', 'tsx', 'src/cli/main.ts', 'run'], {
    cwd: ROOT,
    env: { ...process.env, ...GATEWAY_ALLOCATOR_ENV, ...env, HEARTH_DATA_DIR: dataDir },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${env.HEARTH_CLIENT_PORT}/_matrix/client/versions`;
  for (let i = 0; i < 600; i++) {
    if (child.exitCode !== null) throw new Error(`the gateway exited ${child.exitCode}`);
    if (await fetch(url).then((r) => r.ok, () => false)) return child;
    await sleep(100);
  }
  throw new Error('the gateway did not start');
}

async function stopGateway(child: ChildProcess): Promise<void> {
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

/** RSS once the process settled: the lowest of readings a second apart (8, or SETTLE_SECONDS), after GC and trims. */
async function settledRss(pid: number): Promise<number> {
  let lowest = Infinity;
  for (let i = 0; i < Number(process.env.SETTLE_SECONDS ?? 8); i++) {
    await sleep(1000);
    lowest = Math.min(lowest, rssBytes(pid));
  }
  return lowest;
}

/** How many retained messages (and bytes) a fresh subscriber to `filter` gets, marker last. */
async function countRetained(url: string, creds: { username: string; password: string }, filter: string): Promise<{ count: number; bytes: number }> {
  const client = await mqtt.connectAsync(url, { ...creds, clientId: `count-${Date.now()}`, reconnectPeriod: 0 });
  let count = 0;
  let bytes = 0;
  let last = Date.now();
  client.on('message', (_topic, payload) => {
    count++;
    bytes += payload.length;
    last = Date.now();
  });
  await client.subscribeAsync(filter, { qos: 0 });
  // Retained messages stream right after the SUBACK; done when none came for 3 s.
  while (Date.now() - last < 3000) await sleep(250);
  await client.endAsync();
  return { count, bytes };
}

async function main(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'hearth-retained-'));
  const [client, federation, mqttPort] = [await freePort(), await freePort(), await freePort()];
  const env = {
    HEARTH_SERVER_NAME: `localhost:${client}`,
    HEARTH_CLIENT_PORT: String(client),
    HEARTH_FEDERATION_PORT: String(federation),
    HEARTH_MQTT_PORT: String(mqttPort),
    HEARTH_RATE_LIMITS: 'off',
  };
  const url = `mqtt://127.0.0.1:${mqttPort}`;
  if (UNCAPPED) {
    const total = COUNT * (BYTES + 64);
    writeFileSync(
      join(dataDir, 'hearth.yaml'),
      `mqtt:\n  retained:\n    max_messages: ${COUNT}\n    max_bytes: ${total}\n    max_messages_per_client: ${COUNT}\n    max_bytes_per_client: ${total}\n`,
      { mode: 0o600 },
    );
  }
  try {
    let gateway = await startGateway(dataDir, env);
    const { stdout } = await promisify(execFile)(process.execPath, ['bin/hearth.js', 'device', 'add', 'flooder', '--json'], {
      cwd: ROOT,
      env: { ...process.env, ...env, HEARTH_DATA_DIR: dataDir },
    });
    const creds = JSON.parse(stdout) as { username: string; password: string };
    const idle = await settledRss(gateway.pid!);

    const device = await mqtt.connectAsync(url, { ...creds, clientId: 'flooder', reconnectPeriod: 0 });
    const payload = Buffer.alloc(BYTES, 0x61);
    let sent = 0;
    const started = Date.now();
    await Promise.all(
      Array.from({ length: WINDOW }, async () => {
        while (sent < COUNT) {
          const i = sent++;
          await device.publishAsync(`flooder/retained/${i}`, payload, { qos: 1, retain: true });
        }
      }),
    );
    const seconds = (Date.now() - started) / 1000;
    await device.endAsync();
    const loaded = await settledRss(gateway.pid!);
    const retainedBefore = await countRetained(url, creds, 'flooder/retained/#');

    await stopGateway(gateway);
    gateway = await startGateway(dataDir, env);
    const restarted = await settledRss(gateway.pid!);
    const retainedAfter = await countRetained(url, creds, 'flooder/retained/#');
    await stopGateway(gateway);

    console.log(`${COUNT} retained messages of ${BYTES} bytes from one device, QoS 1, in ${seconds.toFixed(1)} s${UNCAPPED ? ' (caps raised above them)' : ''}`);
    console.log(`RSS idle ${mb(idle)} -> after the publishes ${mb(loaded)} -> right after a restart ${mb(restarted)}`);
    console.log(`retained: ${retainedBefore.count} (${mb(retainedBefore.bytes)}) before the restart, ${retainedAfter.count} (${mb(retainedAfter.bytes)}) after`);
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

await main();
