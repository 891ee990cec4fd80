/** `hearth device ...`: directly on the database, and through the admin socket when it is locked. */
import test from 'ava';
import { defaultConfig } from '../../src/config/config.js';
import { deviceAdminHandlers, runDeviceCommand, type DeviceAdminRequest, type DeviceCommandContext } from '../../src/cli/device.js';
import { openDb, openRegistry, tempDir } from './broker-fixtures.js';

function context(dir: string, lines: string[], errors: string[], callAdmin: DeviceCommandContext['callAdmin']): DeviceCommandContext {
  return {
    config: { ...defaultConfig(dir), client: { bindAddress: '127.0.0.1', port: 8008, publicBaseUrl: 'http://hearth.local:8008' } },
    async openRegistry() {
      const db = await openDb(dir);
      return { registry: await openRegistry(db), close: () => db.close() };
    },
    callAdmin,
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
