/**
 * The real gateway for the MQTT end-to-end tests: `startHearth` (helpers/server.ts) over a data
 * directory whose `hearth.yaml` the test writes first (faster throttles, short command timeouts), and
 * the `hearth` CLI run against it the way an administrator runs it (`node bin/hearth.js ...`, which
 * reaches the running gateway through its admin socket).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ExecutionContext } from 'ava';
import { startHearth, type HearthServer } from '../helpers/server.js';

export const REPO_ROOT = resolve(fileURLToPath(new URL('../../..', import.meta.url)));

/** What `hearth device add NAME --json` prints. */
export interface DeviceCredentials {
  name: string;
  userId: string;
  username: string;
  password: string;
  signing: 'signed' | 'unsigned';
  publicKey?: string;
}

export interface MqttGateway {
  readonly server: HearthServer;
  readonly dataDir: string;
  /** `hearth device add NAME [ARGS] --json` against the running gateway. */
  addDevice(name: string, args?: string[]): Promise<DeviceCredentials>;
  /** `hearth ARGS` against the running gateway; its standard output. */
  cli(args: string[]): Promise<string>;
  /** `hearth device remove NAME` against the running gateway. */
  removeDevice(name: string): Promise<void>;
  /** `hearth user add NAME [--admin] --password P`; returns the user id. */
  addUser(name: string, password: string, opts?: { admin?: boolean }): Promise<string>;
  /** Stops the gateway and removes the data directory. */
  stop(): Promise<void>;
}

/**
 * Bridge settings for tests: every change of a value becomes a state event at once (the default
 * 5 s interval would make each test wait), commands time out after 3 s.
 */
export const FAST_BRIDGE_YAML = `bridge:
  command_timeout_seconds: 3
  throttle:
    deadband: 0
    min_interval_seconds: 0
    discrete_min_interval_seconds: 0
    refresh_seconds: 300
`;

export interface StartMqttGatewayOptions {
  t?: ExecutionContext;
  /** Contents of `hearth.yaml` (merged over the defaults by the gateway). */
  configYaml?: string;
  env?: Record<string, string>;
  /** A federating gateway (helpers/server.ts `federated`). */
  federated?: boolean;
  /** Use this (existing, empty) data directory instead of a new temporary one, e.g. on a small tmpfs; not removed by `stop`. */
  dataDir?: string;
}

export async function startMqttGateway(opts: StartMqttGatewayOptions = {}): Promise<MqttGateway> {
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'hearth-mqtt-it-'));
  writeFileSync(join(dataDir, 'hearth.yaml'), opts.configYaml ?? FAST_BRIDGE_YAML, { mode: 0o600 });
  let server: HearthServer;
  try {
    // HEARTH_DATA_DIR here replaces the directory startHearth made (its env is applied last).
    server = await startHearth({ ...(opts.federated ? { federated: true } : {}), env: { ...opts.env, HEARTH_DATA_DIR: dataDir } });
  } catch (err) {
    if (!opts.dataDir) rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
  const cliEnv = {
    ...process.env,
    HEARTH_DATA_DIR: dataDir,
    HEARTH_SERVER_NAME: server.serverName,
    HEARTH_CLIENT_PORT: String(server.port),
    HEARTH_MQTT_PORT: String(server.mqttPort),
    ...opts.env,
  };
  const cli = (args: string[]) => runCli(args, cliEnv);
  const gateway: MqttGateway = {
    server,
    dataDir,
    async addDevice(name, args = []) {
      return JSON.parse(await cli(['device', 'add', name, ...args, '--json'])) as DeviceCredentials;
    },
    cli,
    async removeDevice(name) {
      await cli(['device', 'remove', name]);
    },
    async addUser(name, password, userOpts = {}) {
      return (await cli(['user', 'add', name, ...(userOpts.admin ? ['--admin'] : []), '--password', password])).trim();
    },
    async stop() {
      await server.stop();
      // A directory the caller gave is the caller's to remove (a mount point cannot be).
      if (!opts.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
  opts.t?.teardown(() => gateway.stop());
  return gateway;
}

function runCli(args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((done, fail) => {
    execFile(process.execPath, ['bin/hearth.js', ...args], { cwd: REPO_ROOT, env, timeout: 30_000 }, (err, stdout, stderr) => {
      if (err) fail(new Error(`hearth ${args.join(' ')} failed: ${err.message}\n${stderr}`));
      else done(stdout);
    });
  });
}
