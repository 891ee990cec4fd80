/**
 * Soak (issue 10 "The harness"), `make proof` only: 200 simulated devices at 1 Hz (devices/simulators,
 * 50 in each convention: Home Assistant, Zigbee2MQTT, Homie, Tasmota) and two people chatting over
 * /sync long-polls, against the gateway as it ships (the bundle under plain node, with the gateway's
 * V8 and allocator settings), for 30 minutes by default. It passes when, after the warm-up:
 *   - RSS grows by at most 5% (median of the last 5 minutes against the first 5 after warm-up);
 *   - open file descriptors are flat (the medians of those windows within 5 of each other);
 *   - no errors: every chat message reaches the other person, no device reading is evicted or left
 *     queued, and the gateway logs nothing at error level.
 *
 *   node --import tsx scripts/proof/soak.ts [--minutes 30] [--warmup-minutes 5] [--devices 200] [--rate 1] [--build bundle|tsx]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { CONVENTIONS, type ConventionName } from '../../devices/agent/conventions/index.js';
import { Fleet } from '../../devices/simulators/fleet.js';
import { BUNDLE } from '../build.js';
import { adminSocketPath, callAdminSocket } from '../../src/admin/socket.js';
import { freePort, GATEWAY_ALLOCATOR_ENV, type HearthInstance, type ServerProcess } from '../lib/processes.js';
import { rssBytes } from '../lib/proc.js';

const ROOT = resolve(import.meta.dirname, '../..');
const { values: args } = parseArgs({
  options: {
    minutes: { type: 'string', default: '30' },
    'warmup-minutes': { type: 'string' },
    devices: { type: 'string', default: '200' },
    rate: { type: 'string', default: '1' },
    build: { type: 'string', default: existsSync(join(ROOT, BUNDLE)) ? 'bundle' : 'tsx' },
  },
});
const minutes = Number(args.minutes);
const warmupMinutes = Number(args['warmup-minutes'] ?? Math.min(5, minutes / 5));
const deviceCount = Number(args.devices);
const rateHz = Number(args.rate);
const SAMPLE_MS = 5000;
/** A chat message must reach the other person within this (a long-poll wakes in milliseconds). */
const DELIVERY_BOUND_MS = 30_000;

const log = (line: string) => process.stderr.write(`[soak ${new Date().toISOString().slice(11, 19)}] ${line}\n`);

// ---- the gateway ----

async function startGateway(): Promise<{ instance: HearthInstance; child: ChildProcess; errorLines: string[] }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'hearth-soak-'));
  const [clientPort, federationPort, mqttPort] = [await freePort(), await freePort(), await freePort()];
  const env = {
    HEARTH_DATA_DIR: dataDir,
    HEARTH_SERVER_NAME: `localhost:${clientPort}`,
    HEARTH_CLIENT_PORT: String(clientPort),
    HEARTH_FEDERATION_PORT: String(federationPort),
    HEARTH_MQTT_PORT: String(mqttPort),
    HEARTH_REGISTRATION: 'open',
    // 200 devices connect from one address at once; the soak measures resources, not the limits.
    HEARTH_RATE_LIMITS: 'off',
    ...GATEWAY_ALLOCATOR_ENV,
  };
  const nodeArgs = ['--max-semi-space-size=2', '--expose-gc'];
  const child =
    args.build === 'bundle'
      ? spawn(process.execPath, [...nodeArgs, BUNDLE, 'run'], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
      : spawn(process.execPath, [...nodeArgs, '--import', 'tsx', 'src/cli/main.ts', 'run'], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const errorLines: string[] = [];
  let pending = '';
  const scan = (chunk: Buffer) => {
    pending += chunk.toString('utf8');
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) {
      // pino: level 50 error, 60 fatal.
      if (/"level":(5|6)0/.test(line)) errorLines.push(line.slice(0, 2000));
    }
  };
  child.stdout!.on('data', scan);
  child.stderr!.on('data', scan);
  const clientUrl = `http://127.0.0.1:${clientPort}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the gateway exited with ${child.exitCode} before serving`);
    try {
      if ((await fetch(`${clientUrl}/_matrix/client/versions`)).ok) break;
    } catch {
      // not yet listening
    }
    if (Date.now() > deadline) throw new Error('the gateway did not answer /versions within 60 s');
    await sleep(100);
  }
  const server = {
    name: 'hearth',
    child,
    get pid() {
      return child.pid!;
    },
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((done) => child.once('exit', done));
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  } as unknown as ServerProcess;
  const cli = args.build === 'bundle' ? [BUNDLE] : ['bin/hearth.js'];
  return { instance: { server, clientUrl, mqttUrl: `mqtt://127.0.0.1:${mqttPort}`, dataDir, env, cli }, child, errorLines };
}

// ---- two people chatting ----

interface ChatStats {
  sent: number;
  delivered: number;
  failures: string[];
}

class Person {
  token = '';
  userId = '';
  private since?: string;
  private readonly seen = new Map<string, number>();
  stopped = false;

  constructor(
    private readonly base: string,
    readonly name: string,
  ) {}

  async call(method: string, path: string, json?: unknown): Promise<any> {
    const res = await fetch(`${this.base}${path}`, {
      method,
      headers: { 'content-type': 'application/json', ...(this.token ? { authorization: `Bearer ${this.token}` } : {}) },
      body: json === undefined ? undefined : JSON.stringify(json),
      signal: AbortSignal.timeout(90_000),
    });
    const body = await res.json().catch(() => undefined);
    if (!res.ok) throw Object.assign(new Error(`${method} ${path}: ${res.status} ${JSON.stringify(body)}`), { status: res.status, body });
    return body;
  }

  async register(): Promise<void> {
    const params = { username: this.name, password: `${this.name} password` };
    const session = await fetch(`${this.base}/_matrix/client/v3/register`, { method: 'POST', body: JSON.stringify(params) }).then((r) => r.json() as Promise<{ session: string }>);
    const done = await this.call('POST', '/_matrix/client/v3/register', { ...params, auth: { type: 'm.login.dummy', session: session.session } });
    this.token = done.access_token;
    this.userId = done.user_id;
  }

  /** Long-polls /sync, noting when each message body arrived. */
  async syncLoop(stats: ChatStats): Promise<void> {
    while (!this.stopped) {
      try {
        const q = this.since ? `?timeout=30000&since=${encodeURIComponent(this.since)}` : '?timeout=0';
        const body = await this.call('GET', `/_matrix/client/v3/sync${q}`);
        this.since = body.next_batch;
        for (const room of Object.values((body.rooms?.join ?? {}) as Record<string, any>)) {
          for (const ev of room.timeline?.events ?? []) if (ev.type === 'm.room.message') this.seen.set(ev.content.body, Date.now());
        }
      } catch (err) {
        if (!this.stopped) stats.failures.push(`${this.name} /sync: ${(err as Error).message}`);
        await sleep(1000);
      }
    }
  }

  hasSeen(body: string): boolean {
    return this.seen.delete(body);
  }
}

async function chat(a: Person, b: Person, roomId: string, stats: ChatStats, until: () => boolean): Promise<void> {
  const room = encodeURIComponent(roomId);
  for (let i = 0; !until(); i++) {
    const [from, to] = i % 2 === 0 ? [a, b] : [b, a];
    const body = `${from.name} says ${i} at ${Date.now()}`;
    try {
      await from.call('PUT', `/_matrix/client/v3/rooms/${room}/send/m.room.message/soak${i}`, { msgtype: 'm.text', body });
      stats.sent++;
      const deadline = Date.now() + DELIVERY_BOUND_MS;
      while (!to.hasSeen(body) && Date.now() < deadline) await sleep(50);
      if (Date.now() >= deadline) stats.failures.push(`message ${i} from ${from.name} did not reach ${to.name} within ${DELIVERY_BOUND_MS} ms`);
      else stats.delivered++;
    } catch (err) {
      stats.failures.push(`send ${i}: ${(err as Error).message}`);
    }
    // People type: a message every 2-4 seconds between the two of them.
    await sleep(2000 + Math.random() * 2000);
  }
}

// ---- measuring ----

interface Sample {
  atMs: number;
  rssMb: number;
  /** RSS split (proc(5) RssAnon / RssFile): heap and malloc vs file pages mapped in (LevelDB's tables). */
  anonMb: number;
  fileMb: number;
  fds: number;
  acknowledged: number;
}

function rssSplitMb(pid: number): { anonMb: number; fileMb: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(status)?.[1] ?? NaN);
  return { anonMb: kb('RssAnon') / 1024, fileMb: kb('RssFile') / 1024 };
}

function fdCount(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

function median(values: number[]): number {
  const sorted = [...values].sort((x, y) => x - y);
  return sorted.length ? sorted[Math.floor(sorted.length / 2)]! : NaN;
}

async function main(): Promise<void> {
  log(`${deviceCount} devices at ${rateHz} Hz and two chatting people for ${minutes} min (warm-up ${warmupMinutes} min), ${args.build} build`);
  const { instance, child, errorLines } = await startGateway();
  const pid = child.pid!;
  const fleets: Fleet[] = [];
  const queueRoot = mkdtempSync(join(tmpdir(), 'hearth-soak-fleet-'));
  const chatStats: ChatStats = { sent: 0, delivered: 0, failures: [] };
  const people = [new Person(instance.clientUrl, 'alice'), new Person(instance.clientUrl, 'bob')];
  let exitCode = 1;
  try {
    // The fleet: the same number of devices in each convention.
    const conventions: ConventionName[] = ['homeassistant', 'zigbee2mqtt', 'homie', 'tasmota'];
    const perConvention = conventions.map((_, i) => Math.floor(deviceCount / conventions.length) + (i < deviceCount % conventions.length ? 1 : 0));
    const prefixOf = (c: ConventionName) => `soak-${c.slice(0, 4)}-`;
    const names = conventions.flatMap((c, ci) => Array.from({ length: perConvention[ci]! }, (_, i) => `${prefixOf(c)}${i}`));
    log(`provisioning ${names.length} devices`);
    // Through the admin socket, as `hearth device add` does, without a CLI process per device.
    const credentials = new Map<string, { username: string; password: string }>();
    for (const name of names) {
      credentials.set(name, (await callAdminSocket(adminSocketPath(instance.dataDir), { op: 'device.add', name } as { op: string })) as { username: string; password: string });
    }
    for (const [ci, c] of conventions.entries()) {
      if (!perConvention[ci]) continue;
      const fleet = new Fleet({ brokerUrl: instance.mqttUrl, convention: CONVENTIONS[c], count: perConvention[ci]!, rateHz, idPrefix: prefixOf(c), queueRoot, credentials: (id) => credentials.get(id), seed: 100 * (ci + 1) });
      fleets.push(fleet);
    }
    await Promise.all(fleets.map((f) => f.start(120_000)));
    const connected = fleets.reduce((n, f) => n + f.stats().connected, 0);
    log(`${connected}/${names.length} devices connected`);
    for (const f of fleets) f.startSampling();

    for (const p of people) await p.register();
    const created = await people[0]!.call('POST', '/_matrix/client/v3/createRoom', { preset: 'private_chat', invite: [people[1]!.userId], name: 'soak chat' });
    await people[1]!.call('POST', `/_matrix/client/v3/join/${encodeURIComponent(created.room_id)}`, {});
    const syncs = people.map((p) => p.syncLoop(chatStats));
    const startedAt = Date.now();
    const endAt = startedAt + minutes * 60_000;
    const chatting = chat(people[0]!, people[1]!, created.room_id, chatStats, () => Date.now() >= endAt);

    const samples: Sample[] = [];
    const acknowledged = () => fleets.reduce((n, f) => n + f.stats().acknowledged, 0);
    while (Date.now() < endAt) {
      await sleep(SAMPLE_MS);
      if (child.exitCode !== null) throw new Error(`the gateway exited (${child.exitCode}) during the soak`);
      const sample = { atMs: Date.now() - startedAt, rssMb: rssBytes(pid) / 2 ** 20, ...rssSplitMb(pid), fds: fdCount(pid), acknowledged: acknowledged() };
      samples.push(sample);
      if (samples.length % 12 === 0) log(`${(sample.atMs / 60_000).toFixed(1)} min: RSS ${sample.rssMb.toFixed(1)} MB (anon ${sample.anonMb.toFixed(1)}, file ${sample.fileMb.toFixed(1)}), ${sample.fds} fds, ${sample.acknowledged} readings acknowledged, chat ${chatStats.delivered}/${chatStats.sent}`);
    }
    await chatting;
    for (const p of people) p.stopped = true;

    // ---- the verdict ----
    const warmupMs = warmupMinutes * 60_000;
    // RSS saws with the gateway's 5-minute periodic writes (the telemetry checkpoint empties the
    // chunks held in memory): whole 5-minute windows compare like with like, a 1-minute one compares
    // phases (a 5-minute soak measured 99 -> 106 -> 103 MB within one period).
    const window = Math.min(5 * 60_000, ((minutes - warmupMinutes) * 60_000) / 2);
    const afterWarmup = samples.filter((s) => s.atMs >= warmupMs);
    const first = afterWarmup.filter((s) => s.atMs < warmupMs + window);
    const last = samples.filter((s) => s.atMs >= minutes * 60_000 - window);
    const rssBase = median(first.map((s) => s.rssMb));
    const rssEnd = median(last.map((s) => s.rssMb));
    const rssGrowth = rssEnd / rssBase - 1;
    const anon = [median(first.map((s) => s.anonMb)), median(last.map((s) => s.anonMb))];
    const file = [median(first.map((s) => s.fileMb)), median(last.map((s) => s.fileMb))];
    const fdBase = median(first.map((s) => s.fds));
    const fdEnd = median(last.map((s) => s.fds));
    const stats = fleets.map((f) => f.stats());
    const evicted = stats.reduce((n, s) => n + s.evicted, 0);
    const queued = stats.reduce((n, s) => n + s.queued, 0);
    const recorded = stats.reduce((n, s) => n + s.recorded, 0);
    const measuredMinutes = (last.at(-1)!.atMs - first[0]!.atMs) / 60_000;
    const readingsPerSecond = (last.at(-1)!.acknowledged - first[0]!.acknowledged) / ((last.at(-1)!.atMs - first[0]!.atMs) / 1000);
    const checks: Array<[string, boolean, string]> = [
      ['RSS growth after warm-up <= 5%', rssGrowth <= 0.05, `${rssBase.toFixed(1)} -> ${rssEnd.toFixed(1)} MB (${(rssGrowth * 100).toFixed(2)}%; anon ${anon[0]!.toFixed(1)} -> ${anon[1]!.toFixed(1)}, file ${file[0]!.toFixed(1)} -> ${file[1]!.toFixed(1)}), peak ${Math.max(...samples.map((s) => s.rssMb)).toFixed(1)} MB`],
      ['file descriptors flat', Math.abs(fdEnd - fdBase) <= 5, `${fdBase} -> ${fdEnd} (range after warm-up ${Math.min(...afterWarmup.map((s) => s.fds))}..${Math.max(...afterWarmup.map((s) => s.fds))})`],
      ['every chat message delivered', chatStats.failures.length === 0 && chatStats.delivered === chatStats.sent, `${chatStats.delivered}/${chatStats.sent}${chatStats.failures.length ? `; ${chatStats.failures.slice(0, 3).join('; ')}` : ''}`],
      ['no reading evicted or left queued', evicted === 0 && queued === 0, `${recorded} recorded, ${evicted} evicted, ${queued} queued; ${readingsPerSecond.toFixed(1)} acknowledged/s over the measured ${measuredMinutes.toFixed(1)} min`],
      ['no error in the gateway log', errorLines.length === 0, errorLines.length ? errorLines.slice(0, 3).join('\n') : 'none'],
      ['all devices connected', stats.reduce((n, s) => n + s.connected, 0) === names.length, `${stats.reduce((n, s) => n + s.connected, 0)}/${names.length}`],
    ];
    const summary = {
      minutes,
      warmupMinutes,
      devices: names.length,
      rateHz,
      build: args.build,
      rssMb: { afterWarmup: +rssBase.toFixed(1), end: +rssEnd.toFixed(1), growthPercent: +(rssGrowth * 100).toFixed(2), anon: anon.map((x) => +x.toFixed(1)), file: file.map((x) => +x.toFixed(1)) },
      windowMinutes: window / 60_000,
      fds: { afterWarmup: fdBase, end: fdEnd },
      readingsAcknowledgedPerSecond: +readingsPerSecond.toFixed(1),
      chat: { sent: chatStats.sent, delivered: chatStats.delivered },
      passed: checks.every(([, ok]) => ok),
    };
    process.stdout.write('\nSoak summary\n');
    for (const [name, ok, detail] of checks) process.stdout.write(`  ${ok ? 'PASS' : 'FAIL'}  ${name}: ${detail}\n`);
    process.stdout.write(`${JSON.stringify(summary)}\n`);
    exitCode = summary.passed ? 0 : 1;
  } finally {
    for (const p of people) p.stopped = true;
    await Promise.all(fleets.map((f) => f.stop()));
    await instance.server.stop();
    rmSync(queueRoot, { recursive: true, force: true });
  }
  process.exit(exitCode);
}

function sleep(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, ms));
}

await main();
