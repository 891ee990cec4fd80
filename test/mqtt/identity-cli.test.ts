/** `hearth device ...`: directly on the database, and through the admin socket when it is locked. */
import test from 'ava';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeUnpaddedBase64 } from '../../src/core/base64.js';
import { generateSigningKey } from '../../src/core/signing.js';
import { defaultConfig } from '../../src/config/config.js';
import { deviceAdminHandlers, runDeviceCommand, type DeviceAdminRequest, type DeviceCommandContext } from '../../src/cli/device.js';
import { lanAddress } from '../../src/cli/lan-address.js';
import { openDb, openRegistry, tempDir } from './broker-fixtures.js';

/** The LAN address the tests' machine pretends to have. */
const LAN_ADDRESS = '192.168.1.20';

function context(dir: string, lines: string[], errors: string[], callAdmin: DeviceCommandContext['callAdmin']): DeviceCommandContext {
  return {
    config: { ...defaultConfig(dir), client: { bindAddress: '127.0.0.1', port: 8008, publicBaseUrl: 'http://hearth.local:8008' } },
    async openRegistry() {
      const db = await openDb(dir);
      return { registry: await openRegistry(db), close: () => db.close() };
    },
    callAdmin,
    lanAddress: () => LAN_ADDRESS,
    out: (line) => lines.push(line),
    err: (line) => errors.push(line),
  };
}

test('device add/list/remove open the database when the gateway is not running', async (t) => {
  const dir = tempDir();
  const lines: string[] = [];
  const errors: string[] = [];
  const ctx = context(dir, lines, errors, async () => t.fail('the admin socket is not needed'));

  t.is(await runDeviceCommand(['add', 'porch-light', '--json'], ctx), 0);
  const created = JSON.parse(lines.join('\n')) as Record<string, unknown>;
  t.like(created, { name: 'porch-light', userId: '@porch-light:hearth.test', username: 'porch-light', host: 'hearth.local', port: 1883, websocketUrl: 'ws://hearth.local:8008/_hearth/mqtt' });
  t.is(typeof created.password, 'string');

  lines.length = 0;
  t.is(await runDeviceCommand(['list'], ctx), 0);
  t.regex(lines[0]!, /^porch-light\t@porch-light:hearth\.test\t/);

  t.is(await runDeviceCommand(['add', 'porch-light'], ctx), 1);
  t.regex(errors.at(-1)!, /already exists/);
  t.is(await runDeviceCommand(['add', 'Bad Name'], ctx), 1);
  t.is(await runDeviceCommand(['frobnicate'], ctx), 2);

  lines.length = 0;
  t.is(await runDeviceCommand(['remove', 'porch-light'], ctx), 0);
  t.regex(lines[0]!, /removed/);
  t.is(await runDeviceCommand(['remove', 'porch-light'], ctx), 1);
});

test('with the database locked by the gateway, the command goes through the admin socket handlers', async (t) => {
  const dir = tempDir();
  // The "gateway" holds the database and serves the admin ops.
  const db = await openDb(dir);
  t.teardown(() => db.close());
  const handlers = deviceAdminHandlers(await openRegistry(db));
  const requests: DeviceAdminRequest[] = [];
  const lines: string[] = [];
  const ctx = context(dir, lines, [], async (request) => {
    requests.push(request);
    return handlers[request.op](request);
  });

  t.is(await runDeviceCommand(['add', 'garage-door'], ctx), 0);
  t.true(lines.some((l) => /username:\s+garage-door/.test(l)));
  t.true(lines.some((l) => /password:\s+\S{20,}/.test(l)));
  lines.length = 0;
  t.is(await runDeviceCommand(['list', '--json'], ctx), 0);
  t.deepEqual((JSON.parse(lines.join('\n')) as { name: string }[]).map((d) => d.name), ['garage-door']);
  t.deepEqual(requests, [{ op: 'device.add', name: 'garage-door' }, { op: 'device.list' }]);
});

test('device add names the broker by the LAN address when the public URL is loopback (the defaults), in text and JSON', async (t) => {
  const dir = tempDir();
  const lines: string[] = [];
  const ctx = context(dir, lines, [], async () => t.fail('the admin socket is not needed'));
  // The defaults: client API on 127.0.0.1 (so the public URL is http://127.0.0.1:8008), broker on all interfaces.
  ctx.config = { ...defaultConfig(dir), client: { bindAddress: '127.0.0.1', port: 8008, publicBaseUrl: 'http://127.0.0.1:8008' } };

  t.is(await runDeviceCommand(['add', 'kitchen-sensor'], ctx), 0);
  t.is(lines[0], 'device kitchen-sensor created (Matrix user @kitchen-sensor:hearth.test)');
  t.deepEqual(lines.slice(1, 4), ['  broker:    mqtt://192.168.1.20:1883', '  host:      192.168.1.20', '  port:      1883']);
  t.is(lines[4], '  websocket: ws://127.0.0.1:8008/_hearth/mqtt');
  t.is(lines[5], '  username:  kitchen-sensor');
  t.regex(lines[6]!, /^ {2}password: {2}\S{20,}$/);

  lines.length = 0;
  t.is(await runDeviceCommand(['add', 'porch-light', '--json'], ctx), 0);
  t.like(JSON.parse(lines.join('\n')), { host: '192.168.1.20', port: 1883 });
});

test('device add on the image defaults (client API and broker on all interfaces): both addresses are the LAN one', async (t) => {
  const dir = tempDir();
  const lines: string[] = [];
  const ctx = context(dir, lines, [], async () => t.fail('the admin socket is not needed'));
  ctx.config = { ...ctx.config, client: { bindAddress: '0.0.0.0', port: 8008, publicBaseUrl: 'http://0.0.0.0:8008' } };

  t.is(await runDeviceCommand(['add', 'kitchen-sensor', '--json'], ctx), 0);
  t.like(JSON.parse(lines.join('\n')), { host: '192.168.1.20', port: 1883, websocketUrl: 'ws://192.168.1.20:8008/_hearth/mqtt' });
});

test('device add with the broker bound to loopback names that address and says LAN devices cannot reach it', async (t) => {
  const dir = tempDir();
  const lines: string[] = [];
  const ctx = context(dir, lines, [], async () => t.fail('the admin socket is not needed'));
  const defaults = defaultConfig(dir);
  ctx.config = { ...ctx.config, mqtt: { ...defaults.mqtt, bindAddress: '127.0.0.1', port: 11883 } };

  t.is(await runDeviceCommand(['add', 'kitchen-sensor'], ctx), 0);
  t.true(lines.includes('  broker:    mqtt://127.0.0.1:11883'), lines.join('\n'));
  t.true(lines.includes('Note: the broker listens on 127.0.0.1 only; for devices on the LAN set mqtt.bind_address: 0.0.0.0 in hearth.yaml.'));
});

test('lanAddress: the first non-internal IPv4 address, else the hostname', (t) => {
  const address = (addr: string, family: 'IPv4' | 'IPv6', internal: boolean) =>
    ({ address: addr, family, internal, netmask: '', mac: '', cidr: null }) as import('node:os').NetworkInterfaceInfo;
  t.is(
    lanAddress(
      {
        lo: [address('127.0.0.1', 'IPv4', true), address('::1', 'IPv6', true)],
        eth0: [address('fe80::1', 'IPv6', false), address('192.168.1.20', 'IPv4', false)],
        wlan0: [address('10.0.0.5', 'IPv4', false)],
      },
      'gateway',
    ),
    '192.168.1.20',
  );
  t.is(lanAddress({ lo: [address('127.0.0.1', 'IPv4', true)], eth0: [address('fe80::1', 'IPv6', false)] }, 'gateway'), 'gateway');
});

test('device add --public-key and device key set the signing policy that device list shows', async (t) => {
  const dir = tempDir();
  const lines: string[] = [];
  const errors: string[] = [];
  const ctx = context(dir, lines, errors, async () => t.fail('the admin socket is not needed'));
  const key = encodeUnpaddedBase64(generateSigningKey().publicKey);

  t.is(await runDeviceCommand(['add', 'attic-pi', '--public-key', key, '--json'], ctx), 0);
  t.like(JSON.parse(lines.join('\n')), { name: 'attic-pi', signing: 'signed', publicKey: key });
  t.is(await runDeviceCommand(['add', 'porch-light'], ctx), 0);
  t.true(lines.some((l) => /signing: +unsigned/.test(l)));

  lines.length = 0;
  t.is(await runDeviceCommand(['list'], ctx), 0);
  t.deepEqual(lines.map((l) => [l.split('\t')[0], l.split('\t')[3]]), [['attic-pi', `signed ${key}`], ['porch-light', 'unsigned']]);

  // The agent's .pub file; its private key file is refused by name.
  const pub = join(dir, 'agent.key.pub');
  writeFileSync(pub, `${key}\n`);
  lines.length = 0;
  t.is(await runDeviceCommand(['key', 'porch-light', '--public-key-file', pub], ctx), 0);
  t.deepEqual(lines, [`device porch-light: signed ${key}`]);
  writeFileSync(join(dir, 'agent.key'), JSON.stringify({ algorithm: 'ed25519', seed: 'x', public_key: key }));
  t.is(await runDeviceCommand(['key', 'porch-light', '--public-key-file', join(dir, 'agent.key')], ctx), 2);
  t.regex(errors.join('\n'), /is the agent's private key; give its \.pub file/);

  lines.length = 0;
  t.is(await runDeviceCommand(['key', 'attic-pi', '--unsigned'], ctx), 0);
  t.deepEqual(lines, ['device attic-pi: unsigned']);

  // Not a key, two key options, no key option, an unknown device.
  errors.length = 0;
  t.is(await runDeviceCommand(['add', 'garage', '--public-key', 'c2hvcnQ'], ctx), 2);
  t.regex(errors[0]!, /not an ed25519 public key/);
  t.is(await runDeviceCommand(['key', 'attic-pi', '--public-key', key, '--unsigned'], ctx), 2);
  t.is(await runDeviceCommand(['key', 'attic-pi'], ctx), 2);
  t.is(await runDeviceCommand(['key', 'nobody', '--public-key', key], ctx), 1);
  t.regex(errors.at(-1)!, /no device "nobody"/);
});
