/**
 * The real gateway as a child process for integration tests: `node --import tsx src/cli/main.ts run`
 * with fresh free ports and a temp data directory, configured through the HEARTH_* environment
 * variables. The process is spawned directly (not through npx) so that its pid is the server's and a
 * signal reaches the server itself.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ExecutionContext } from 'ava';

const REPO_ROOT = resolve(fileURLToPath(new URL('../../..', import.meta.url)));
/** Output kept for failure messages: the tail is what explains a crash. */
const OUTPUT_TAIL_CHARS = 64 * 1024;

export interface StartHearthOptions {
  /** Registers `stop()` as a teardown of this test (ava forbids teardowns in hooks: use `after.always`). */
  t?: ExecutionContext;
  registration?: 'open' | 'closed' | 'token';
  /** Extra environment variables for the server. */
  env?: Record<string, string>;
  /**
   * `hearth.yaml` for the data directory, written before the first start (settings without an
   * environment variable, e.g. `turn`); the gateway fills in defaults for what it leaves out.
   */
  hearthYaml?: string;
  /** How long to wait for `/versions` to answer 200. */
  readyTimeoutMs?: number;
  /**
   * A federating server: named `127.0.0.1:<federation port>` (an IP literal other servers reach
   * directly, no .well-known or SRV), accepting self-signed peers and reaching 127.0.0.1, like the
   * Synapse peer.
   */
  federated?: boolean;
}

export interface ProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** From sending the signal to the exit. */
  elapsedMs: number;
}

export interface HearthServer {
  /** `http://127.0.0.1:<port>` of the Client-Server API. */
  readonly baseUrl: string;
  readonly port: number;
  readonly mqttPort: number;
  readonly federationPort: number;
  readonly dataDir: string;
  readonly serverName: string;
  /** pid of the running server process (changes on restart). */
  pid(): number | undefined;
  /** Everything the server printed so far, across restarts (the tail, for failure messages). */
  output(): string;
  /** SIGTERM and wait for the exit (SIGKILL after a grace period); removes the data directory. */
  stop(): Promise<void>;
  /** Sends `signal` and waits for the process to exit; keeps the data directory. */
  kill(signal: NodeJS.Signals): Promise<ProcessExit>;
  /**
   * SIGTERM if still running, then start again on the same ports and data directory; `env` is added
   * to the environment of this and later starts (a setting changed between runs).
   */
  restart(env?: Record<string, string>): Promise<void>;
}

/** A free TCP port on loopback, from the kernel (listen on 0, read it, close). */
export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      probe.close(() => resolvePort(port));
    });
  });
}

const running = new Set<ChildProcess>();
// A crashed or interrupted test run must not leave servers behind.
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/**
 * Starts a gateway on fresh free ports. A port picked free can be taken by another test file's
 * server (ava runs files in parallel; Synapse peers pick ports too) before the gateway binds it:
 * the gateway then exits naming the port, and we start again on other ports.
 */
export async function startHearth(opts: StartHearthOptions = {}): Promise<HearthServer> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startHearthOnce(opts);
    } catch (err) {
      if (attempt >= 4 || !/is already in use/.test((err as Error).message)) throw err;
    }
  }
}

async function startHearthOnce(opts: StartHearthOptions): Promise<HearthServer> {
  const [port, mqttPort, federationPort] = [await freePort(), await freePort(), await freePort()];
  const dataDir = mkdtempSync(join(tmpdir(), 'hearth-it-'));
  if (opts.hearthYaml !== undefined) writeFileSync(join(dataDir, 'hearth.yaml'), opts.hearthYaml, { mode: 0o600 });
  const serverName = opts.federated ? `127.0.0.1:${federationPort}` : `localhost:${port}`;
  const baseUrl = `http://127.0.0.1:${port}`;
  const env = {
    ...process.env,
    HEARTH_DATA_DIR: dataDir,
    HEARTH_SERVER_NAME: serverName,
    HEARTH_CLIENT_PORT: String(port),
    HEARTH_FEDERATION_PORT: String(federationPort),
    HEARTH_MQTT_PORT: String(mqttPort),
    HEARTH_REGISTRATION: opts.registration ?? 'open',
    // Tests register and log in many users from one address in seconds: Synapse's rate limits
    // would refuse them. Tests of the limits themselves pass HEARTH_RATE_LIMITS: 'on'.
    HEARTH_RATE_LIMITS: 'off',
    // Loopback peers: self-signed certificates, and 127.0.0.1 allowed (refused by default, docs/federation.md).
    ...(opts.federated ? { HEARTH_FEDERATION_VERIFY_TLS: 'false', HEARTH_FEDERATION_IP_RANGE_ALLOWLIST: '127.0.0.1' } : {}),
    ...opts.env,
  };
  const readyTimeoutMs = opts.readyTimeoutMs ?? 60_000; // generous: a loaded 2-core CI machine starts several gateways at once

  let output = '';
  let child: ChildProcess | undefined;
  let exited: Promise<Omit<ProcessExit, 'elapsedMs'>> = Promise.resolve({ code: null, signal: null });
  let removed = false;

  const append = (chunk: Buffer) => {
    output += chunk.toString('utf8');
    if (output.length > OUTPUT_TAIL_CHARS * 2) output = output.slice(-OUTPUT_TAIL_CHARS);
  };

  const launch = async () => {
    const proc = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'run'], {
      cwd: REPO_ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = proc;
    running.add(proc);
    proc.stdout!.on('data', append);
    proc.stderr!.on('data', append);
    exited = new Promise((done) => {
      proc.once('exit', (code, signal) => {
        running.delete(proc);
        output += `\n[hearth pid ${proc.pid} exited: code ${code}, signal ${signal}]\n`;
        done({ code, signal });
      });
    });
    await waitUntilServing(proc);
  };

  const waitUntilServing = async (proc: ChildProcess) => {
    const deadline = Date.now() + readyTimeoutMs;
    while (Date.now() < deadline) {
      if (proc.exitCode !== null || proc.signalCode !== null) {
        throw new Error(`hearth exited before serving:\n${tail()}`);
      }
      try {
        const res = await fetch(`${baseUrl}/_matrix/client/versions`);
        if (res.status === 200) return;
      } catch {
        // Not listening yet.
      }
      await sleep(50);
    }
    proc.kill('SIGKILL');
    throw new Error(`hearth did not answer /versions within ${readyTimeoutMs} ms:\n${tail()}`);
  };

  const tail = () => output.slice(-OUTPUT_TAIL_CHARS);

  const kill = async (signal: NodeJS.Signals): Promise<ProcessExit> => {
    const proc = child;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) {
      return { code: proc?.exitCode ?? null, signal: proc?.signalCode ?? null, elapsedMs: 0 };
    }
    const sentAt = Date.now();
    proc.kill(signal);
    // The server forces its own exit 10 s after SIGTERM; past that it is hung.
    const hung = setTimeout(() => proc.kill('SIGKILL'), 12_000);
    const exit = await exited;
    clearTimeout(hung);
    return { ...exit, elapsedMs: Date.now() - sentAt };
  };

  const server: HearthServer = {
    baseUrl,
    port,
    mqttPort,
    federationPort,
    dataDir,
    serverName,
    pid: () => child?.pid,
    output: tail,
    kill,
    async restart(extraEnv) {
      await kill('SIGTERM');
      Object.assign(env, extraEnv);
      await launch();
    },
    async stop() {
      await kill('SIGTERM');
      if (!removed) {
        removed = true;
        rmSync(dataDir, { recursive: true, force: true });
      }
    },
  };

  try {
    await launch();
  } catch (err) {
    await server.stop();
    throw err;
  }
  opts.t?.teardown(() => server.stop());
  return server;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, ms));
}

/** The configuration `server` runs with, as the environment a CLI command reads it from, plus `overrides`. */
export function cliEnvOf(server: HearthServer, overrides: Record<string, string> = {}): Record<string, string> {
  return {
    HEARTH_DATA_DIR: server.dataDir,
    HEARTH_SERVER_NAME: server.serverName,
    HEARTH_CLIENT_PORT: String(server.port),
    HEARTH_FEDERATION_PORT: String(server.federationPort),
    HEARTH_MQTT_PORT: String(server.mqttPort),
    HEARTH_FEDERATION_VERIFY_TLS: 'false',
    HEARTH_FEDERATION_IP_RANGE_ALLOWLIST: '127.0.0.1',
    ...overrides,
  };
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** `hearth ARGS` from the source tree, with `env` over this process's environment. */
export function runCli(args: string[], env: Record<string, string>): Promise<CliResult> {
  return new Promise((done) => {
    execFile(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { cwd: REPO_ROOT, env: { ...process.env, ...env }, timeout: 60_000 }, (err, stdout, stderr) =>
      done({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}
