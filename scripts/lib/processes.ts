/**
 * The servers under test, each a direct `node` child (never through npx), so the child's pid is the
 * server's own and /proc/<pid>/io and /proc/<pid>/status describe the server alone.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { BUNDLE } from '../build.js';

const ROOT = resolve(import.meta.dirname, '../..');

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', () => done()));
  const address = server.address();
  await new Promise<void>((done) => server.close(() => done()));
  if (address === null || typeof address === 'string') throw new Error('no free port');
  return address.port;
}

async function waitUntil(check: () => Promise<boolean>, timeoutMs: number, what: string, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (child.exitCode !== null) throw new Error(`${what} exited with code ${child.exitCode}`);
    if (Date.now() > deadline) throw new Error(`${what} did not start within ${timeoutMs} ms`);
    await new Promise((done) => setTimeout(done, 50));
  }
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      done(true);
    });
    socket.once('error', () => done(false));
  });
}

export class ServerProcess {
  constructor(
    readonly name: string,
    readonly child: ChildProcess,
    private readonly cleanup: () => void = () => undefined,
  ) {}

  get pid(): number {
    if (this.child.pid === undefined) throw new Error(`${this.name} has no pid`);
    return this.child.pid;
  }

  /** Kills the process with `signal` and waits for its exit, keeping its data (a later restart finds it). */
  async kill(signal: NodeJS.Signals): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((done) => this.child.once('exit', done));
    this.child.kill(signal);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      const exited = new Promise((done) => this.child.once('exit', done));
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
    this.cleanup();
  }
}

function spawnNode(script: string, args: string[], env: NodeJS.ProcessEnv = {}, nodeArgs: string[] = []): ChildProcess {
  return spawnWithStderrTail(process.execPath, [...nodeArgs, '--import', 'tsx', script, ...args], env);
}

const running = new Set<ChildProcess>();
// An interrupted or failed benchmark must not leave servers behind (bench.ts turns SIGINT and
// SIGTERM into an exit, so this runs then too).
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

function spawnWithStderrTail(command: string, args: string[], env: NodeJS.ProcessEnv): ChildProcess {
  // BENCH_SERVER_LOG=FILE keeps every server's stdout (Hearth's structured log) for a diagnosis.
  const logFile = process.env.BENCH_SERVER_LOG;
  const child = spawn(command, args, {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', logFile ? openSync(logFile, 'a') : 'ignore', 'pipe'],
  });
  running.add(child);
  child.once('exit', () => running.delete(child));
  // Keep the last lines of stderr for error messages.
  let tail = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    tail = (tail + chunk.toString()).slice(-4000);
  });
  child.on('exit', (code) => {
    if (code) process.stderr.write(`[${args.join(' ')}] exited ${code}\n${tail}\n`);
  });
  return child;
}

/** The bare node:http ceiling, or with `signedFloor` the signed-event floor (bare-http-server.ts). */
export async function startBareHttp(opts: { signedFloor?: boolean } = {}): Promise<{ server: ServerProcess; url: string }> {
  const port = await freePort();
  const name = opts.signedFloor ? 'signed-event floor' : 'bare node:http';
  const child = spawnNode('scripts/lib/bare-http-server.ts', opts.signedFloor ? [String(port), '--signed-floor'] : [String(port)]);
  const server = new ServerProcess(name, child);
  await waitUntil(() => portOpen(port), 15_000, name, child);
  return { server, url: `http://127.0.0.1:${port}` };
}

export async function startBareAedes(): Promise<{ server: ServerProcess; url: string }> {
  const port = await freePort();
  const child = spawnNode('scripts/lib/bare-aedes.ts', [String(port)]);
  const server = new ServerProcess('bare aedes', child);
  await waitUntil(() => portOpen(port), 15_000, 'bare aedes', child);
  return { server, url: `mqtt://127.0.0.1:${port}` };
}

export interface HearthInstance {
  server: ServerProcess;
  clientUrl: string;
  mqttUrl: string;
  dataDir: string;
  env: NodeJS.ProcessEnv;
  /** How to run the `hearth` CLI of the same build (the bundle starts in a fraction of tsx's time). */
  cli: string[];
}

export interface HearthLaunch {
  /**
   * `bundle`: dist/hearth.mjs under plain node (what `make run` starts; built by scripts/build.ts);
   * `tsx`: the sources through tsx's loader (`npx hearth run` in a checkout); `sea`: the single
   * executable of `make build-gateway` (what a gateway image runs).
   */
  build: 'bundle' | 'tsx' | 'sea';
  /** Extra arguments for node itself with `tsx` (e.g. `--cpu-prof`, which NODE_OPTIONS refuses). */
  nodeArgs?: string[];
  /** Environment over the gateway's own (e.g. other malloc settings, for experiments). */
  env?: NodeJS.ProcessEnv;
}

export const SEA_EXECUTABLE = join(ROOT, 'firmware-gateway', 'out', 'hearth');

/** The Makefile's NODE_FLAGS: what `make run` and the systemd unit start the gateway with. */
const GATEWAY_NODE_FLAGS = ['--max-semi-space-size=2', '--expose-gc'];

/**
 * The allocator settings the Makefile's GATEWAY_ENV and the systemd unit start the gateway with:
 * jemalloc when installed (it returns freed pages; glibc kept ~27 MB of freed memory under a
 * 200-device load), glibc with two arenas and fixed thresholds otherwise.
 */
export const JEMALLOC = ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib/arm-linux-gnueabihf', '/usr/lib']
  .map((dir) => join(dir, 'libjemalloc.so.2'))
  .find((path) => existsSync(path));
export const GATEWAY_ALLOCATOR_ENV: Record<string, string> = {
  MALLOC_ARENA_MAX: '2',
  MALLOC_MMAP_THRESHOLD_: '65536',
  MALLOC_TRIM_THRESHOLD_: '65536',
  ...(JEMALLOC
    ? { LD_PRELOAD: JEMALLOC, MALLOC_CONF: 'narenas:1,background_thread:true,dirty_decay_ms:500,muzzy_decay_ms:0,tcache:false' }
    : {}),
};

export interface HearthOptions {
  /**
   * A federating server, as test/integration/helpers/server.ts starts one: named
   * `127.0.0.1:<federation port>` (an IP literal peers reach directly), accepting self-signed peers
   * and allowed to reach 127.0.0.1 (both refused by default, docs/federation.md).
   */
  federated?: boolean;
  /**
   * The port of the server name (`127.0.0.1:<port>`) when it is not the federation listener's: a
   * byte-counting proxy listens there and forwards to the listener (scripts/lib/wire-bytes.ts).
   */
  serverNamePort?: number;
}

/** A fresh Hearth: temporary data directory, free ports, open registration. */
export async function startHearth(launch: HearthLaunch = { build: 'tsx' }, opts: HearthOptions = {}): Promise<HearthInstance> {
  const dataDir = mkdtempSync(join(tmpdir(), 'hearth-bench-'));
  const [clientPort, federationPort, mqttPort] = [await freePort(), await freePort(), await freePort()];
  const serverName = opts.federated ? `127.0.0.1:${opts.serverNamePort ?? federationPort}` : `localhost:${clientPort}`;
  const env = {
    HEARTH_DATA_DIR: dataDir,
    HEARTH_SERVER_NAME: serverName,
    HEARTH_CLIENT_PORT: String(clientPort),
    HEARTH_FEDERATION_PORT: String(federationPort),
    HEARTH_MQTT_PORT: String(mqttPort),
    HEARTH_REGISTRATION: 'open',
    // The benchmarks measure throughput: Synapse's rate limits (rc_message: 0.2/s) would measure those instead.
    HEARTH_RATE_LIMITS: 'off',
    ...(opts.federated ? { HEARTH_FEDERATION_VERIFY_TLS: 'false', HEARTH_FEDERATION_IP_RANGE_ALLOWLIST: '127.0.0.1' } : {}),
    ...GATEWAY_ALLOCATOR_ENV,
    ...launch.env,
  };
  const cli = launch.build === 'bundle' ? [BUNDLE] : ['bin/hearth.js'];
  const instance = { server: undefined as unknown as ServerProcess, clientUrl: `http://127.0.0.1:${clientPort}`, mqttUrl: `mqtt://127.0.0.1:${mqttPort}`, dataDir, env, cli };
  instance.server = await spawnHearth(launch, instance);
  return instance;
}

/**
 * Starts the same Hearth again (same data directory, ports and name) after its process was killed
 * (`server.kill`): resolves once its Client-Server API answers, with the new process in `server`.
 */
export async function restartHearth(launch: HearthLaunch, hearth: HearthInstance): Promise<void> {
  if (hearth.server.child.exitCode === null && hearth.server.child.signalCode === null) throw new Error('restartHearth: the old process still runs');
  hearth.server = await spawnHearth(launch, hearth);
}

async function spawnHearth(launch: HearthLaunch, hearth: Pick<HearthInstance, 'env' | 'dataDir' | 'clientUrl'>): Promise<ServerProcess> {
  // The gateway runs with the V8 flags it ships with (Makefile NODE_FLAGS, systemd unit).
  const nodeArgs = [...GATEWAY_NODE_FLAGS, ...(launch.nodeArgs ?? [])];
  const env = hearth.env;
  const child =
    launch.build === 'sea'
      ? spawnWithStderrTail(SEA_EXECUTABLE, ['run'], { ...env, NODE_OPTIONS: GATEWAY_NODE_FLAGS.join(' ') })
      : launch.build === 'bundle'
        ? spawnWithStderrTail(process.execPath, [...nodeArgs, BUNDLE, 'run'], env)
        : spawnNode('src/cli/main.ts', ['run'], env, nodeArgs);
  const server = new ServerProcess('hearth', child, () => rmSync(hearth.dataDir, { recursive: true, force: true }));
  await waitUntil(
    async () => {
      try {
        return (await fetch(`${hearth.clientUrl}/_matrix/client/versions`)).ok;
      } catch {
        return false;
      }
    },
    60_000,
    'hearth',
    child,
  );
  return server;
}

export interface DeviceCredentials {
  name: string;
  username: string;
  password: string;
}

/** `hearth device add NAME --json` against the running instance (the CLI reaches the server). */
export async function addHearthDevice(hearth: HearthInstance, name: string): Promise<DeviceCredentials> {
  const { stdout } = await promisify(execFile)(process.execPath, [...hearth.cli, 'device', 'add', name, '--json'], {
    cwd: ROOT,
    env: { ...process.env, ...hearth.env },
  });
  const parsed = JSON.parse(stdout) as DeviceCredentials;
  return { name, username: parsed.username, password: parsed.password };
}

/** Provisions many devices, a few CLI processes at a time (2 cores). */
export async function addHearthDevices(hearth: HearthInstance, names: string[], concurrency = 4): Promise<Map<string, DeviceCredentials>> {
  const out = new Map<string, DeviceCredentials>();
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < names.length) {
        const name = names[next++]!;
        out.set(name, await addHearthDevice(hearth, name));
      }
    }),
  );
  return out;
}
