/**
 * `hearth device add NAME [--public-key KEY | --public-key-file FILE] [--json]`,
 * `hearth device key NAME (--public-key KEY | --public-key-file FILE | --unsigned)`,
 * `hearth device list [--json]`, `hearth device remove NAME`: MQTT device identities and the keys
 * their readings are signed with (docs/mqtt.md "Signed readings"). With the gateway stopped the command opens the database itself; while
 * the gateway runs (database locked) it asks the running server over its admin socket, whose
 * server side is `deviceAdminHandlers`.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parsePublicKey } from '../mqtt/signing/envelope.js';
import { AccountService } from '../accounts/accounts.js';
import { loadConfig, type HearthConfig } from '../config/config.js';
import { deviceUserEnsurer } from '../mqtt/identity/matrix-user.js';
import { DeviceRegistry, DeviceRegistryError, type DeviceSummary, type NewDeviceCredentials } from '../mqtt/identity/registry.js';
import { settleServerName } from '../app/server-name.js';
import { StreamNotifier } from '../stream/notifier.js';
import { Database } from '../storage/db.js';
import { adminSocketPath, callAdminSocket } from '../admin/socket.js';
import { isLocalOnly, lanAddress } from './lan-address.js';

export type DeviceAdminOp = 'device.add' | 'device.key' | 'device.list' | 'device.remove';

/** The admin-socket request this command sends (and `deviceAdminHandlers` serves). */
export interface DeviceAdminRequest {
  op: DeviceAdminOp;
  name?: string;
  /** `device.add`, `device.key`: base64 of the device's ed25519 public key; `null` (key): unsigned. */
  publicKey?: string | null;
}

export interface DeviceAdminResults {
  'device.add': NewDeviceCredentials;
  'device.key': DeviceSummary;
  'device.list': DeviceSummary[];
  'device.remove': { removed: string };
}

export type DeviceAdminHandlers = { [Op in DeviceAdminOp]: (request: DeviceAdminRequest) => Promise<DeviceAdminResults[Op]> };

/**
 * Server side of the device ops, for the gateway to register on its admin socket. `onRemoved`
 * lets the gateway end a removed device's open connections (`EmbeddedBroker.disconnectDevice`).
 */
export function deviceAdminHandlers(registry: DeviceRegistry, hooks: { onRemoved?: (name: string) => void } = {}): DeviceAdminHandlers {
  return {
    'device.add': (request) => registry.addDevice(requireName(request), request.publicKey ? { publicKey: requireKey(request.publicKey) } : {}),
    'device.key': (request) => {
      if (request.publicKey === undefined) throw new DeviceRegistryError('invalid_key', 'a public key (or null: unsigned) is required');
      return registry.setPublicKey(requireName(request), request.publicKey === null ? undefined : requireKey(request.publicKey));
    },
    'device.list': () => registry.listDevices(),
    'device.remove': async (request) => {
      const name = requireName(request);
      await registry.removeDevice(name);
      hooks.onRemoved?.(name);
      return { removed: name };
    },
  };
}

function requireKey(text: unknown): Uint8Array {
  const key = typeof text === 'string' ? parsePublicKey(text) : undefined;
  if (!key) throw new DeviceRegistryError('invalid_key', 'the public key must be base64 of 32 bytes (an ed25519 key: the agent prints it and writes it to its .pub file)');
  return key;
}

function requireName(request: DeviceAdminRequest): string {
  if (typeof request.name !== 'string') throw new DeviceRegistryError('invalid_name', 'a device name is required');
  return request.name;
}

export interface DeviceCommandContext {
  config: HearthConfig;
  /**
   * Opens the registry over the database directly (gateway not running). Rejects when the
   * database is locked by the running gateway; the command then uses `callAdmin`.
   */
  openRegistry(): Promise<{ registry: DeviceRegistry; close(): Promise<void> }>;
  /** Sends one request to the running gateway's admin socket (`callAdminSocket`). */
  callAdmin(request: DeviceAdminRequest): Promise<unknown>;
  /** This machine's address on the home network (`lanAddress`). */
  lanAddress(): string;
  out(line: string): void;
  err(line: string): void;
}

const USAGE = [
  'usage: hearth device add NAME [--public-key KEY | --public-key-file FILE] [--json]',
  '       hearth device key NAME (--public-key KEY | --public-key-file FILE | --unsigned)',
  '       hearth device list [--json]',
  '       hearth device remove NAME',
].join('\n');

/** The real context: the configured data directory, its database, the gateway's admin socket. */
function defaultContext(config: HearthConfig): DeviceCommandContext {
  return {
    config,
    async openRegistry() {
      const db = await Database.open(join(config.dataDir, 'db'), config.storage);
      try {
        // The device's Matrix user id carries the server name the data directory is bound to.
        const named = { ...config, serverName: await settleServerName(db, config) };
        // Creating an account takes no stream position, so the notifier's start position is irrelevant.
        const accounts = new AccountService(db, named, new StreamNotifier(0));
        const registry = await DeviceRegistry.open({ db, ensureMatrixUser: deviceUserEnsurer(accounts) });
        return { registry, close: () => db.close() };
      } catch (err) {
        await db.close();
        throw err;
      }
    },
    callAdmin: (request) => callAdminSocket(adminSocketPath(config.dataDir), request),
    lanAddress: () => lanAddress(),
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
  };
}

/** Runs `hearth device ...` (argv after `device`); returns the process exit code. */
export async function runDeviceCommand(argv: string[], overrides: Partial<DeviceCommandContext> = {}): Promise<number> {
  const context: DeviceCommandContext = { ...defaultContext(overrides.config ?? loadConfig()), ...overrides };
  let request: DeviceAdminRequest;
  let json: boolean;
  try {
    ({ request, json } = parseDeviceArgs(argv));
  } catch (err) {
    context.err((err as Error).message);
    context.err(USAGE);
    return 2;
  }
  const sub = request.op.slice('device.'.length);
  try {
    const result = await perform(request, context);
    print(request.op, result, json, context);
    return 0;
  } catch (err) {
    context.err(`hearth device ${sub}: ${(err as Error).message}`);
    return 1;
  }
}

/** The request `argv` asks for; throws with what is wrong. */
function parseDeviceArgs(argv: string[]): { request: DeviceAdminRequest; json: boolean } {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      json: { type: 'boolean', default: false },
      'public-key': { type: 'string' },
      'public-key-file': { type: 'string' },
      unsigned: { type: 'boolean', default: false },
    },
  });
  const [sub, name, ...extra] = positionals;
  if (extra.length > 0) throw new Error(`unexpected ${extra.join(' ')}`);
  const keyOptions = [values['public-key'], values['public-key-file'], values.unsigned || undefined].filter((v) => v !== undefined);
  if (keyOptions.length > 1) throw new Error('give one of --public-key, --public-key-file, --unsigned');
  const publicKey = values['public-key'] ?? (values['public-key-file'] !== undefined ? readPublicKeyFile(values['public-key-file']) : undefined);
  if (publicKey !== undefined && !parsePublicKey(publicKey)) throw new Error(`not an ed25519 public key (base64 of 32 bytes): ${JSON.stringify(publicKey)}`);
  const json = values.json ?? false;
  if (sub === 'add' && name && !values.unsigned) return { request: { op: 'device.add', name, ...(publicKey ? { publicKey } : {}) }, json };
  if (sub === 'key' && name && keyOptions.length === 1) return { request: { op: 'device.key', name, publicKey: publicKey ?? null }, json };
  if (sub === 'remove' && name && keyOptions.length === 0) return { request: { op: 'device.remove', name }, json };
  if (sub === 'list' && !name && keyOptions.length === 0) return { request: { op: 'device.list' }, json };
  throw new Error(sub === 'key' && name ? 'hearth device key needs --public-key, --public-key-file or --unsigned' : `hearth device ${sub ?? ''}: bad arguments`);
}

/**
 * The agent's public key file (`agent.key.pub`, devices/agent/signing.ts): the base64 key on its
 * first line. Given the private key file by mistake, the command says so instead of reading it.
 */
function readPublicKeyFile(path: string): string {
  const text = readFileSync(path, 'utf8');
  if (text.includes('"seed"')) throw new Error(`${path} is the agent's private key; give its .pub file`);
  const line = text.split('\n')[0]!.trim();
  return line;
}

async function perform(request: DeviceAdminRequest, context: DeviceCommandContext): Promise<unknown> {
  let opened: Awaited<ReturnType<DeviceCommandContext['openRegistry']>>;
  try {
    opened = await context.openRegistry();
  } catch (err) {
    // Database.open reports a held LevelDB lock as "in use by another process".
    if (!/in use by another process/.test((err as Error).message)) throw err;
    return context.callAdmin(request);
  }
  try {
    const handlers = deviceAdminHandlers(opened.registry);
    return await handlers[request.op](request);
  } finally {
    await opened.close();
  }
}

function print(op: DeviceAdminOp, result: unknown, json: boolean, context: DeviceCommandContext): void {
  if (json) {
    context.out(JSON.stringify(op === 'device.add' ? withConnection(result as NewDeviceCredentials, context) : result, null, 2));
    return;
  }
  switch (op) {
    case 'device.add': {
      const c = withConnection(result as NewDeviceCredentials, context);
      context.out(`device ${c.name} created (Matrix user ${c.userId})`);
      context.out(`  broker:    mqtt://${c.host.includes(':') ? `[${c.host}]` : c.host}:${c.port}`);
      context.out(`  host:      ${c.host}`);
      context.out(`  port:      ${c.port}`);
      context.out(`  websocket: ${c.websocketUrl}`);
      context.out(`  username:  ${c.username}`);
      context.out(`  password:  ${c.password}`);
      context.out(`  signing:   ${c.signing === 'signed' ? `signed (ed25519 ${c.publicKey})` : 'unsigned'}`);
      context.out('The password is shown only now; it is stored hashed.');
      if (context.config.mqtt.mode === 'embedded' && isLocalOnly(context.config.mqtt.bindAddress)) {
        context.out(`Note: the broker listens on ${context.config.mqtt.bindAddress} only; for devices on the LAN set mqtt.bind_address: 0.0.0.0 in hearth.yaml.`);
      }
      if (context.config.mqtt.mode === 'external') {
        context.out(`Note: the gateway uses the external broker ${context.config.mqtt.externalUrl}; configure these credentials there.`);
      }
      return;
    }
    case 'device.list': {
      const devices = result as DeviceSummary[];
      if (devices.length === 0) context.out('no devices');
      for (const d of devices) context.out(`${d.name}\t${d.userId}\t${new Date(d.createdAt).toISOString()}\t${signingText(d)}`);
      return;
    }
    case 'device.key': {
      const d = result as DeviceSummary;
      context.out(`device ${d.name}: ${signingText(d)}`);
      return;
    }
    case 'device.remove':
      context.out(`device ${(result as { removed: string }).removed} removed (its Matrix user and rooms stay)`);
      return;
  }
}

function signingText(d: { signing: string; publicKey?: string }): string {
  return d.signing === 'signed' ? `signed ${d.publicKey}` : 'unsigned';
}

/**
 * Credentials plus where to connect: the MQTT listener, and MQTT over WebSocket on the client port.
 * A broker on all interfaces is named as devices on the LAN reach it: the client API's public host
 * when that is a real name (`client.public_base_url`), else this machine's LAN address.
 */
function withConnection(credentials: NewDeviceCredentials, context: Pick<DeviceCommandContext, 'config' | 'lanAddress'>) {
  const { config } = context;
  const publicUrl = new URL(config.client.publicBaseUrl);
  const wildcard = config.mqtt.bindAddress === '0.0.0.0' || config.mqtt.bindAddress === '::';
  const wsScheme = publicUrl.protocol === 'https:' ? 'wss:' : 'ws:';
  const publicHost = publicUrl.hostname;
  // A client API on all interfaces has the public URL http://0.0.0.0:<port> unless one is configured.
  const wsHost = publicHost === '0.0.0.0' || publicHost === '[::]' ? `${context.lanAddress()}${publicUrl.port ? `:${publicUrl.port}` : ''}` : publicUrl.host;
  return {
    ...credentials,
    host: wildcard ? (isLocalOnly(publicHost) ? context.lanAddress() : publicHost) : config.mqtt.bindAddress,
    port: config.mqtt.port,
    websocketUrl: `${wsScheme}//${wsHost}${config.mqtt.websocketPath}`,
  };
}
