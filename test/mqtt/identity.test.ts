/** Device registry, password hashing, CONNECT authentication and the default ACL policy. */
import test from 'ava';
import { createDefaultAclPolicy, deviceMayReceiveCommands, filterWithin } from '../../src/mqtt/identity/acl.js';
import { createAuthenticator } from '../../src/mqtt/identity/authenticate.js';
import { hashPassword, verifyPassword } from '../../src/accounts/password.js';
import { DeviceRegistryError } from '../../src/mqtt/identity/registry.js';
import type { MqttIdentity } from '../../src/mqtt/identity/identity.js';
import { openDb, openRegistry, tempDir } from './broker-fixtures.js';

const kitchen: MqttIdentity = { kind: 'device', deviceName: 'kitchen', userId: '@kitchen:hearth.test' };
const alice: MqttIdentity = { kind: 'user', userId: '@alice:hearth.test' };
const acl = createDefaultAclPolicy();

test('password hashes verify only the right password and never contain it', async (t) => {
  const hash = await hashPassword('correct horse');
  t.regex(hash, /^scrypt\$16384\$8\$1\$/);
  t.false(hash.includes('correct horse'));
  t.true(await verifyPassword('correct horse', hash));
  t.false(await verifyPassword('wrong', hash));
  t.false(await verifyPassword('correct horse', 'garbage'));
  t.not(await hashPassword('correct horse'), hash);
});

test('registry: add, verify, list, remove; names follow the grammar and are unique', async (t) => {
  const db = await openDb(tempDir());
  t.teardown(() => db.close());
  const registry = await openRegistry(db);

  const added = await registry.addDevice('kitchen-sensor');
  t.deepEqual({ ...added, password: typeof added.password }, {
    name: 'kitchen-sensor',
    userId: '@kitchen-sensor:hearth.test',
    username: 'kitchen-sensor',
    password: 'string',
    signing: 'unsigned',
  });
  t.true(added.password.length >= 20);
  const err = await t.throwsAsync(registry.addDevice('kitchen-sensor'));
  t.is((err as DeviceRegistryError).code, 'exists');
  for (const bad of ['Kitchen', '-x', 'a/b', 'a+b', '', 'x'.repeat(65)]) {
    const e = await t.throwsAsync(registry.addDevice(bad));
    t.is((e as DeviceRegistryError).code, 'invalid_name', bad);
  }

  t.deepEqual(await registry.verify('kitchen-sensor', added.password), { kind: 'device', deviceName: 'kitchen-sensor', userId: '@kitchen-sensor:hearth.test' });
  t.is(await registry.verify('kitchen-sensor', 'nope'), undefined);
  t.is(await registry.verify('other', added.password), undefined);
  // Cached verifications are still answered after the first one.
  t.truthy(await registry.verify('kitchen-sensor', added.password));

  // The stored record holds a hash, not the password.
  const raw = (await db.space('mqttDevices').get(Buffer.from('kitchen-sensor\0')))!.toString();
  t.false(raw.includes(added.password));
  t.true(registry.isDevice('kitchen-sensor'));
  t.deepEqual((await registry.listDevices()).map((d) => d.name), ['kitchen-sensor']);

  await registry.removeDevice('kitchen-sensor');
  t.is(await registry.verify('kitchen-sensor', added.password), undefined, 'the cache forgets removed devices');
  t.false(registry.isDevice('kitchen-sensor'));
  t.is(((await t.throwsAsync(registry.removeDevice('kitchen-sensor'))) as DeviceRegistryError).code, 'not_found');
});

test('registry state survives reopening the database', async (t) => {
  const dir = tempDir();
  let db = await openDb(dir);
  const added = await (await openRegistry(db)).addDevice('porch');
  await db.close();
  db = await openDb(dir);
  t.teardown(() => db.close());
  const registry = await openRegistry(db);
  t.true(registry.isDevice('porch'));
  t.truthy(await registry.verify('porch', added.password));
});

test('authenticator: devices, access tokens for the same user, anonymous by configuration', async (t) => {
  const deps = {
    verifyDevice: async (u: string, p: string) => (u === 'kitchen' && p === 'pw' ? (kitchen as Extract<MqttIdentity, { kind: 'device' }>) : undefined),
    authenticateAccessToken: async (token: string) => (token === 'tok' ? { userId: '@alice:hearth.test' } : undefined),
  };
  const closed = createAuthenticator({ ...deps, allowAnonymous: false });
  t.deepEqual(await closed(undefined, undefined), { ok: false, returnCode: 5 });
  t.deepEqual(await closed('kitchen', Buffer.from('pw')), { ok: true, identity: kitchen });
  t.deepEqual(await closed('kitchen', Buffer.from('bad')), { ok: false, returnCode: 4 });
  t.deepEqual(await closed('kitchen', undefined), { ok: false, returnCode: 4 });
  t.deepEqual(await closed('alice', Buffer.from('tok')), { ok: true, identity: alice });
  t.deepEqual(await closed('@alice:hearth.test', Buffer.from('tok')), { ok: true, identity: alice });
  t.deepEqual(await closed('bob', Buffer.from('tok')), { ok: false, returnCode: 4 });
  const open = createAuthenticator({ ...deps, allowAnonymous: true });
  t.deepEqual(await open(undefined, undefined), { ok: true, identity: { kind: 'anonymous' } });
});

test('filterWithin follows MQTT wildcard semantics', (t) => {
  t.true(filterWithin('cmnd/kitchen/POWER', 'cmnd/kitchen/#'));
  t.true(filterWithin('cmnd/kitchen', 'cmnd/kitchen/#'), '# includes the parent level');
  t.true(filterWithin('cmnd/kitchen/#', 'cmnd/kitchen/#'));
  t.true(filterWithin('homie/5/kitchen/+/+/set', 'homie/5/kitchen/+/+/set'));
  t.true(filterWithin('homie/5/kitchen/node/temp/set', 'homie/5/kitchen/+/+/set'));
  t.false(filterWithin('cmnd/+/POWER', 'cmnd/kitchen/#'), '+ reaches other devices');
  t.false(filterWithin('cmnd/#', 'cmnd/kitchen/#'));
  t.false(filterWithin('homie/5/kitchen/#', 'homie/5/kitchen/+/+/set'));
  t.false(filterWithin('homie/5/kitchen/n/p', 'homie/5/kitchen/+/+/set'));
});

test('default ACL: what a device may publish, per convention', (t) => {
  const allowed = [
    'kitchen/temperature/state',
    'kitchen',
    'homeassistant/sensor/kitchen/config',
    'homeassistant/sensor/kitchen/temperature/config',
    'homeassistant/sensor/kitchen_temperature/config',
    'homeassistant/sensor/hub/kitchen_humidity/config',
    'homeassistant/device/kitchen/config',
    'zigbee2mqtt/kitchen',
    'zigbee2mqtt/kitchen/availability',
    'homie/5/kitchen/$state',
    'homie/5/kitchen/thermo/temperature',
    'homie/5/kitchen/thermo/temperature/$target',
    'tele/kitchen/SENSOR',
    'tele/kitchen/LWT',
    'stat/kitchen/RESULT',
  ];
  for (const topic of allowed) t.true(acl.canPublish(kitchen, topic), topic);
  const refused = [
    'garage/temperature/state',
    'kitchenette/state',
    'homeassistant/status',
    'homeassistant/sensor/kitchenette/config',
    'homeassistant/sensor/garage/config',
    'zigbee2mqtt/garage',
    'zigbee2mqtt',
    'zigbee2mqtt/kitchenette',
    'zigbee2mqtt/kitchen/set',
    'zigbee2mqtt/kitchen/set/state',
    'zigbee2mqtt/bridge/request/permit_join',
    'homie/5/kitchen/thermo/temperature/set',
    'homie/5/garage/$state',
    'homie/4/kitchen/$state',
    'tele/garage/SENSOR',
    'tele/kitchen',
    'cmnd/kitchen/POWER',
    '$SYS/broker/uptime',
    '$hearth/refused',
  ];
  for (const topic of refused) t.false(acl.canPublish(kitchen, topic), topic);
});

test('default ACL: a device subscribes only to its command topics', (t) => {
  const allowed = [
    'zigbee2mqtt/kitchen/set',
    'zigbee2mqtt/kitchen/set/#',
    'zigbee2mqtt/kitchen/set/brightness',
    'homie/5/kitchen/+/+/set',
    'homie/5/kitchen/light/power/set',
    'cmnd/kitchen/#',
    'cmnd/kitchen/POWER',
    'kitchen/#',
    'kitchen/light/set',
    'homeassistant/status',
  ];
  for (const filter of allowed) t.true(acl.canSubscribe(kitchen, filter), filter);
  const refused = ['#', '+/#', 'zigbee2mqtt/#', 'zigbee2mqtt/+/set', 'zigbee2mqtt/garage/set', 'homie/5/#', 'cmnd/+/POWER', 'tele/kitchen/SENSOR', 'homeassistant/#', '$hearth/refused'];
  for (const filter of refused) t.false(acl.canSubscribe(kitchen, filter), filter);
});

test('default ACL: Matrix users read everything and publish nothing by topic alone (commands need the room); anonymous is open; extra rules add', (t) => {
  t.true(acl.canSubscribe(alice, '#'));
  t.true(acl.canSubscribe(alice, 'tele/+/SENSOR'));
  t.false(acl.canSubscribe(alice, '$hearth/#'));
  for (const topic of ['zigbee2mqtt/lamp/set', 'zigbee2mqtt/lamp/set/state', 'homie/5/lamp/light/power/set', 'cmnd/lamp/POWER', 'lamp/switch/set', 'tele/lamp/SENSOR', 'zigbee2mqtt/lamp', 'homie/5/lamp/$state', 'lamp', 'homeassistant/status']) {
    t.false(acl.canPublish(alice, topic), topic);
  }
  t.true(acl.canPublish({ kind: 'anonymous' }, 'anything/goes'));
  t.false(acl.canPublish({ kind: 'anonymous' }, '$SYS/x'));

  const extended = createDefaultAclPolicy({
    extra: { canPublish: (id, topic) => id.kind === 'device' && topic === `sensors/${id.deviceName}/t`, canSubscribe: () => false },
  });
  t.true(extended.canPublish(kitchen, 'sensors/kitchen/t'));
  t.false(extended.canPublish(kitchen, 'sensors/garage/t'));
});

test('command topics a device may be sent commands on: its own command filters only', (t) => {
  for (const topic of ['kitchen/switch/set', 'cmnd/kitchen/POWER', 'zigbee2mqtt/kitchen/set', 'homie/5/kitchen/light/power/set']) {
    t.true(deviceMayReceiveCommands('kitchen', topic), topic);
  }
  for (const topic of ['garage/switch/set', 'cmnd/garage/POWER', 'zigbee2mqtt/garage/set', 'kitchenette/set', 'homie/5/garage/light/power/set']) {
    t.false(deviceMayReceiveCommands('kitchen', topic), topic);
  }
  t.true(deviceMayReceiveCommands('zigbee2mqtt', 'zigbee2mqtt/lamp/set'), 'a coordinator commands the devices under its base topic');
});
