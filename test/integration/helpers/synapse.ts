/**
 * A real Synapse (the reference homeserver) as a federation peer for integration tests and
 * benchmarks, run by `scripts/synapse-peer` from a Debian sid chroot built once per machine
 * (`scripts/synapse-peer build`; docs/federation-testing.md). Each `startSynapse()` is a new server
 * named `127.0.0.1:<federationPort>` on fresh free ports: its federation listener speaks TLS with a
 * self-signed certificate (peers must not verify certificates), its Client-Server API is plain HTTP
 * on `clientUrl`. A missing build is an error, never a skip: a skipped test is a failing test.
 */
import { execFile } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { get as httpsGet } from 'node:https';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ExecutionContext } from 'ava';
import { freePort } from './server.js';

const REPO_ROOT = resolve(fileURLToPath(new URL('../../..', import.meta.url)));
const PEER_SCRIPT = resolve(REPO_ROOT, 'scripts/synapse-peer');
/** Where `scripts/synapse-peer build` keeps the chroot (same default and variable as the script). */
export const SYNAPSE_CACHE = process.env.HEARTH_SYNAPSE_CACHE ?? '/var/cache/hearth/synapse-sid';
/** The script's start waits up to 90 s for /versions (HEARTH_SYNAPSE_START_TIMEOUT); this covers it. */
const SCRIPT_TIMEOUT_MS = 150_000;
const LOG_TAIL_CHARS = 16 * 1024;

export interface SynapseUser {
  /** `@name:127.0.0.1:<federationPort>` */
  userId: string;
  accessToken: string;
  deviceId: string;
  password: string;
}

export interface RegisterSynapseUserOptions {
  /** Default: a random one (returned in the result). */
  password?: string;
  /** Server admin (may use the /_synapse/admin API). Default false. */
  admin?: boolean;
}

export interface SynapsePeer {
  /** Instance name in scripts/synapse-peer (`scripts/synapse-peer status <name>`). */
  readonly name: string;
  /** `127.0.0.1:<federationPort>`: the server name, an IP literal with port (no .well-known/SRV). */
  readonly serverName: string;
  /** `http://127.0.0.1:<clientPort>`: plain-HTTP Client-Server API (and /_synapse/admin). */
  readonly clientUrl: string;
  readonly clientPort: number;
  /** `https://127.0.0.1:<federationPort>`: Server-Server API (and client API) over TLS, self-signed. */
  readonly federationUrl: string;
  readonly federationPort: number;
  /** The instance directory on the host (database, keys, config, log). */
  readonly dataDir: string;
  /** Synapse's log (warnings and errors; HEARTH_SYNAPSE_LOG_LEVEL=INFO for every request). */
  readonly logPath: string;
  /** pid of the running Synapse (changes on restart). */
  pid(): number | undefined;
  /** The tail of Synapse's log, for failure messages. */
  log(): string;
  /** Registers a local user through the shared-secret admin API (works with registration closed). */
  registerUser(name: string, opts?: RegisterSynapseUserOptions): Promise<SynapseUser>;
  /**
   * Stops and starts the same server (same name, keys and database) on the same ports; with
   * `whileStopped`, runs it between the two (the peer is unreachable meanwhile).
   */
  restart(whileStopped?: () => Promise<void>): Promise<void>;
  /** Stops Synapse and deletes its data (keeps it for a `persistent` instance). Idempotent. */
  stop(): Promise<void>;
}

export interface StartSynapseOptions {
  /** Registers `stop()` as a teardown of this test (in hooks, call `stop()` in `after.always`). */
  t?: ExecutionContext;
  /** Extra environment for scripts/synapse-peer, e.g. `{ HEARTH_SYNAPSE_LOG_LEVEL: 'INFO' }`. */
  env?: Record<string, string>;
  /**
   * A named, persistent instance on fixed ports instead of a fresh one: `stop()` then keeps its data,
   * and the next start with the same name and ports is the same server with its rooms (for
   * benchmarks that prepare a big room once). The name must not start with `it-` (pruned by CI).
   */
  persistent?: { name: string; federationPort: number; clientPort: number };
  /**
   * The federation listener's port when it is not the server name's: the server is still
   * `127.0.0.1:<federationPort>`, where the caller puts a proxy that forwards here (the benchmark's
   * byte counter, scripts/lib/wire-bytes.ts). Nothing listens on `federationPort` until it does.
   */
  federationListenPort?: number;
}

/** True once `scripts/synapse-peer build` has completed on this machine. */
export function synapseBuilt(): boolean {
  return existsSync(`${SYNAPSE_CACHE}.built`);
}

const running = new Map<string, number>();
// A crashed or interrupted test run must not leave Synapses behind (they are daemons, not children).
process.once('exit', () => {
  for (const pid of running.values()) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
});

let instanceCounter = 0;

export async function startSynapse(opts: StartSynapseOptions = {}): Promise<SynapsePeer> {
  if (!synapseBuilt()) {
    throw new Error(
      `the Synapse federation peer is not built (no ${SYNAPSE_CACHE}.built): run 'scripts/synapse-peer build' ` +
        '(a few minutes, once per machine; .ci/run does it) - see docs/federation-testing.md',
    );
  }
  const persistent = opts.persistent;
  if (persistent && persistent.name.startsWith('it-')) throw new Error(`persistent Synapse names must not start with it-: ${persistent.name}`);
  const env = { ...process.env, ...opts.env };
  // A free port can be taken by another test file between freePort() and Synapse binding it (the
  // suite runs files side by side): a fresh peer that exits while starting is made again on other
  // ports, at most twice.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startSynapseOnce(opts, env);
    } catch (err) {
      if (persistent || attempt >= 3 || !/exited while starting/.test((err as Error).message)) throw err;
    }
  }
}

async function startSynapseOnce(opts: StartSynapseOptions, env: NodeJS.ProcessEnv): Promise<SynapsePeer> {
  const persistent = opts.persistent;
  const name = persistent?.name ?? `it-${process.pid}-${++instanceCounter}-${Date.now().toString(36)}`;
  const federationPort = persistent?.federationPort ?? (await freePort());
  let clientPort = persistent?.clientPort ?? (await freePort());
  while (!persistent && clientPort === federationPort) clientPort = await freePort();

  const start = async (): Promise<Record<string, string>> => {
    const listen = opts.federationListenPort === undefined ? [] : [String(opts.federationListenPort)];
    const info = parseInfo(await peer(['start', name, String(federationPort), String(clientPort), ...listen], env));
    const pid = Number(info.pid);
    if (!Number.isInteger(pid) || pid <= 0) throw new Error(`scripts/synapse-peer start printed no pid:\n${JSON.stringify(info)}`);
    running.set(name, pid);
    return info;
  };

  let info: Record<string, string>;
  try {
    info = await start();
  } catch (err) {
    await peer([persistent ? 'stop' : 'destroy', name], env).catch(() => undefined);
    throw err;
  }
  const registrationSecret = info.registration_shared_secret;
  if (!registrationSecret) throw new Error('scripts/synapse-peer start printed no registration_shared_secret');
  let stopped = false;

  const synapse: SynapsePeer = {
    name,
    serverName: info.server_name,
    clientUrl: info.client_url,
    clientPort,
    federationUrl: info.federation_url,
    federationPort,
    dataDir: info.data_dir,
    logPath: info.log,
    pid: () => running.get(name),
    log: () => {
      try {
        return readFileSync(info.log, 'utf8').slice(-LOG_TAIL_CHARS);
      } catch {
        return '';
      }
    },
    registerUser: (user, registerOpts = {}) => registerWithSharedSecret(info.client_url, registrationSecret, user, registerOpts),
    async restart(whileStopped) {
      await peer(['stop', name], env);
      running.delete(name);
      await whileStopped?.();
      await start();
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await peer([persistent ? 'stop' : 'destroy', name], env);
      running.delete(name);
    },
  };
  opts.t?.teardown(() => synapse.stop());
  return synapse;
}

function peer(args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((done, fail) => {
    execFile('bash', [PEER_SCRIPT, ...args], { env, timeout: SCRIPT_TIMEOUT_MS, maxBuffer: 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) fail(new Error(`scripts/synapse-peer ${args.join(' ')} failed (${err.message.split('\n')[0]}):\n${stderr}`));
      else done(stdout);
    });
  });
}

/** `key=value` lines, as `scripts/synapse-peer start` prints them. */
function parseInfo(stdout: string): Record<string, string> {
  const info: Record<string, string> = {};
  for (const line of stdout.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) info[line.slice(0, eq)] = line.slice(eq + 1);
  }
  for (const key of ['server_name', 'client_url', 'federation_url', 'data_dir', 'log']) {
    if (!info[key]) throw new Error(`scripts/synapse-peer start printed no ${key}:\n${stdout}`);
  }
  return info;
}

/**
 * Synapse's shared-secret registration (Synapse admin API, POST /_synapse/admin/v1/register): a
 * nonce from GET, then the HMAC-SHA1 of `nonce\0user\0password\0admin|notadmin` keyed with
 * `registration_shared_secret`.
 */
async function registerWithSharedSecret(
  clientUrl: string,
  secret: string,
  username: string,
  opts: RegisterSynapseUserOptions,
): Promise<SynapseUser> {
  const url = `${clientUrl}/_synapse/admin/v1/register`;
  const nonceRes = await fetch(url);
  const nonceBody = (await nonceRes.json()) as { nonce?: unknown };
  if (nonceRes.status !== 200 || typeof nonceBody.nonce !== 'string') {
    throw new Error(`GET ${url}: ${nonceRes.status} ${JSON.stringify(nonceBody)}`);
  }
  const password = opts.password ?? `pw-${Math.random().toString(36).slice(2)}-${Date.now()}`;
  const admin = opts.admin ?? false;
  const mac = createHmac('sha1', secret)
    .update(`${nonceBody.nonce}\0${username}\0${password}\0${admin ? 'admin' : 'notadmin'}`)
    .digest('hex');
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ nonce: nonceBody.nonce, username, password, admin, mac }),
  });
  const body = (await res.json()) as { user_id?: unknown; access_token?: unknown; device_id?: unknown };
  if (res.status !== 200 || typeof body.user_id !== 'string' || typeof body.access_token !== 'string') {
    throw new Error(`POST ${url} for ${username}: ${res.status} ${JSON.stringify(body)}`);
  }
  return { userId: body.user_id, accessToken: body.access_token, deviceId: String(body.device_id), password };
}

/**
 * GET over TLS without verifying the certificate, as a federation peer does on loopback (the
 * Synapse's certificate is self-signed): for probing `federationUrl` (e.g. `/_matrix/key/v2/server`).
 * Unsigned: endpoints that need X-Matrix auth answer 401.
 */
export function getInsecureTls(url: string): Promise<{ status: number; body: any; text: string }> {
  return new Promise((done, fail) => {
    const req = httpsGet(url, { rejectUnauthorized: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => {
        let body: unknown;
        try {
          body = JSON.parse(text);
        } catch {
          body = undefined;
        }
        done({ status: res.statusCode ?? 0, body, text });
      });
    });
    req.on('error', fail);
    req.setTimeout(10_000, () => req.destroy(new Error(`GET ${url}: no answer within 10 s`)));
  });
}
