/**
 * Issue 14 "The status page": its data API on the real gateway (`/_hearth/status/v1/...`, docs/status-page.md).
 * An admin and a non-admin made with `hearth user add`, logged in with the Client-Server /login; a
 * device (`hearth device add`) speaking Home Assistant discovery with mqtt.js. The admin sees the
 * gateway panel, the device with its live values (the long-poll answers a new reading), its history
 * at each resolution; the non-admin and strangers are refused; bad parameters are 400s.
 */
import test from 'ava';
import mqtt from 'mqtt';
import { request } from './helpers/http.js';
import { startMqttGateway, type DeviceCredentials, type MqttGateway } from './mqtt-helpers/gateway.js';
import { announceClimateDevice } from './mqtt-helpers/climate-device.js';

let gateway: MqttGateway;
let adminToken: string;
let userToken: string;
let device: DeviceCredentials;
let client: mqtt.MqttClient;

const DEVICE_KEY = 'ha.status-climate';

async function login(name: string, password: string): Promise<string> {
  const res = await request(gateway.server.baseUrl, 'POST', '/_matrix/client/v3/login', {
    json: { type: 'm.login.password', identifier: { type: 'm.id.user', user: name }, password },
  });
  if (res.status !== 200) throw new Error(`login ${name}: ${res.status} ${res.text}`);
  return res.body.access_token as string;
}

const api = (path: string, token?: string) => request(gateway.server.baseUrl, 'GET', `/_hearth/status/v1${path}`, token === undefined ? {} : { token });

test.before(async () => {
  gateway = await startMqttGateway();
  await gateway.addUser('admin', 'admin password', { admin: true });
  await gateway.addUser('user', 'user password');
  device = await gateway.addDevice('status-climate');
  [adminToken, userToken] = await Promise.all([login('admin', 'admin password'), login('user', 'user password')]);
  client = await mqtt.connectAsync(`mqtt://127.0.0.1:${gateway.server.mqttPort}`, {
    username: device.username,
    password: device.password,
    clientId: 'status-climate',
    reconnectPeriod: 0,
  });
});

test.afterEach.always((t) => {
  if (!t.passed) t.log(gateway.server.output());
});

test.after.always(async () => {
  await client?.endAsync();
  await gateway?.stop();
});

test.serial('a non-admin, a missing and an unknown token are refused on every route', async (t) => {
  for (const path of ['/gateway', '/devices', `/devices/${DEVICE_KEY}/sensors/temperature/history`]) {
    const forbidden = await api(path, userToken);
    t.is(forbidden.status, 403, path);
    t.is(forbidden.body.errcode, 'M_FORBIDDEN', path);
    const missing = await api(path);
    t.is(missing.status, 401, path);
    t.is(missing.body.errcode, 'M_MISSING_TOKEN', path);
    const unknown = await api(path, 'not-a-token');
    t.is(unknown.status, 401, path);
    t.is(unknown.body.errcode, 'M_UNKNOWN_TOKEN', path);
  }
});

test.serial('the gateway panel', async (t) => {
  const res = await api('/gateway', adminToken);
  t.is(res.status, 200, res.text);
  const g = res.body;
  t.is(g.server_name, gateway.server.serverName);
  t.regex(g.version, /^\d+\.\d+\.\d+/);
  t.true(Number.isInteger(g.uptime_seconds) && g.uptime_seconds >= 0);
  t.true(g.started_at <= Date.now() && g.started_at > Date.now() - 10 * 60_000);
  t.true(g.rss_bytes > 10_000_000, 'RSS of a Node process');
  t.true(g.disk.used_bytes > 0, 'LevelDB has files');
  t.true(g.disk.free_bytes > 0 && g.disk.total_bytes >= g.disk.free_bytes);
  t.true(g.writes.bytes_per_hour === null || g.writes.bytes_per_hour >= 0);
  t.true(g.writes.telemetry_journal_bytes_per_hour >= 0);
  t.is(g.mqtt.clients, 1, 'the device is connected');
  t.true(g.events_per_second >= 0 && g.readings_per_second >= 0);
  t.deepEqual(g.federation, { clock_ok: true, peers: [] });
});

test.serial('devices with live values: the long-poll answers a new reading, the history has it at each resolution', async (t) => {
  const empty = await api('/devices', adminToken);
  t.is(empty.status, 200, empty.text);
  t.true(empty.body.full);
  t.deepEqual(empty.body.devices, []);
  t.regex(empty.body.next, /^\d+_\d+$/);

  // A device announces itself (retained discovery), comes online and reports.
  const before = Date.now();
  await announceClimateDevice(client, 'status-climate', 'Status climate', 'sc');

  // Long-polls from the empty answer until the device shows its values.
  let next = empty.body.next as string;
  let view: any;
  for (let i = 0; i < 20 && !(view?.online === true && view.sensors.length === 2 && view.sensors.every((s: any) => s.value !== null)); i++) {
    const res = await api(`/devices?since=${next}&timeout=20000`, adminToken);
    t.is(res.status, 200, res.text);
    t.false(res.body.full);
    next = res.body.next;
    view = res.body.devices.find((d: any) => d.key === DEVICE_KEY) ?? view;
  }
  t.like(view, { key: DEVICE_KEY, name: 'Status climate', convention: 'homeassistant', model: 'ESP32 BME280', manufacturer: 'espressif', online: true });
  t.true(view.last_seen >= before && view.last_seen <= Date.now());
  t.regex(view.room_id, /^!/);
  t.false(view.joined, 'the admin is invited to the device room, not joined');
  const bySensor = Object.fromEntries(view.sensors.map((s: any) => [s.key, s]));
  t.like(bySensor.temperature, { name: 'Temperature', kind: 'number', unit: '°C', device_class: 'temperature', settable: false, command_target: 'temperature', value: 21.5 });
  t.like(bySensor.relay, { name: 'Fan relay', kind: 'boolean', settable: true, command_target: 'relay', value: false });

  // Nothing new: a long-poll with a short timeout answers with no devices.
  const quiet = await api(`/devices?since=${next}&timeout=50`, adminToken);
  t.is(quiet.status, 200);
  t.deepEqual(quiet.body.devices, []);

  // A parked long-poll is answered by the next reading, with that device only.
  const parked = api(`/devices?since=${quiet.body.next}&timeout=60000`, adminToken);
  await new Promise((r) => setTimeout(r, 100));
  await client.publishAsync('status-climate/temperature', '22.25', { qos: 1 });
  const woken = await parked;
  t.is(woken.status, 200, woken.text);
  t.is(woken.body.devices.length, 1);
  t.is(woken.body.devices[0].sensors.find((s: any) => s.key === 'temperature').value, 22.25);

  // History: raw readings as columns, and the 5-minute and hourly rollups.
  const raw = await api(`/devices/${DEVICE_KEY}/sensors/temperature/history?from=${before - 1000}&resolution=raw`, adminToken);
  t.is(raw.status, 200, raw.text);
  t.like(raw.body, { device: DEVICE_KEY, sensor: 'temperature', resolution: 'raw', truncated: false });
  t.deepEqual(raw.body.value, [21.5, 22.25]);
  t.is(raw.body.ts.length, 2);
  t.true(raw.body.ts[0] >= before - 1000 && raw.body.ts[1] >= raw.body.ts[0]);
  for (const resolution of ['5m', '1h']) {
    const rollup = await api(`/devices/${DEVICE_KEY}/sensors/temperature/history?from=${before - 3_600_000}&resolution=${resolution}`, adminToken);
    t.is(rollup.status, 200, rollup.text);
    t.is(rollup.body.resolution, resolution);
    const count = rollup.body.count.reduce((a: number, b: number) => a + b, 0);
    t.is(count, 2, `${resolution}: both readings in the buckets`);
    t.is(Math.min(...rollup.body.min), 21.5);
    t.is(Math.max(...rollup.body.max), 22.25);
  }
  const relay = await api(`/devices/${DEVICE_KEY}/sensors/relay/history?from=${before - 1000}&resolution=raw`, adminToken);
  t.deepEqual(relay.body.value, [0], 'a switch charts as 0/1');
  const auto = await api(`/devices/${DEVICE_KEY}/sensors/temperature/history?from=${before - 1000}`, adminToken);
  t.is(auto.body.resolution, 'raw', 'auto: raw for a short range');
});

test.serial('unknown devices and sensors are 404, bad parameters 400', async (t) => {
  const unknownDevice = await api('/devices/no.such/sensors/temperature/history', adminToken);
  t.is(unknownDevice.status, 404);
  t.is(unknownDevice.body.errcode, 'M_NOT_FOUND');
  const unknownSensor = await api(`/devices/${DEVICE_KEY}/sensors/pressure/history`, adminToken);
  t.is(unknownSensor.status, 404);
  for (const query of ['from=yesterday', 'to=-5', 'from=10&to=5', 'resolution=1m', 'from=1e5', 'to=99999999999999999']) {
    const res = await api(`/devices/${DEVICE_KEY}/sensors/temperature/history?${query}`, adminToken);
    t.is(res.status, 400, query);
    t.is(res.body.errcode, 'M_INVALID_PARAM', query);
  }
  for (const query of ['since=abc', 'since=1_2_3', 'since=_5', 'timeout=-1', 'timeout=1.5', 'timeout=soon']) {
    const res = await api(`/devices?${query}`, adminToken);
    t.is(res.status, 400, query);
    t.is(res.body.errcode, 'M_INVALID_PARAM', query);
  }
  // A position of another run (a page open across a restart) answers everything.
  const other = await api('/devices?since=1_999999&timeout=60000', adminToken);
  t.is(other.status, 200);
  t.true(other.body.full);
  t.is(other.body.devices.length, 1);
  const longKey = await api(`/devices/${'x'.repeat(300)}/sensors/t/history`, adminToken);
  t.is(longKey.status, 400);
});

test.serial('the page: public HTML with a strict policy naming two hashed, immutable files; other asset names are 404', async (t) => {
  const res = await fetch(`${gateway.server.baseUrl}/`);
  t.is(res.status, 200);
  t.regex(res.headers.get('content-type') ?? '', /^text\/html/);
  t.regex(res.headers.get('content-security-policy') ?? '', /script-src 'self'/);
  const html = await res.text();
  const assets = [...html.matchAll(/(?:src|href)="(\/_hearth\/status\/assets\/app\.[A-Za-z0-9_-]+\.(?:js|css))"/g)].map((m) => m[1]!);
  t.is(assets.length, 2);
  for (const asset of assets) {
    const file = await fetch(`${gateway.server.baseUrl}${asset}`);
    t.is(file.status, 200, asset);
    t.is(file.headers.get('cache-control'), 'public, max-age=31536000, immutable');
    t.is(file.headers.get('content-encoding'), 'gzip', 'compressed for a client that accepts gzip');
    const again = await fetch(`${gateway.server.baseUrl}${asset}`, { headers: { 'if-none-match': file.headers.get('etag')! } });
    t.is(again.status, 304);
  }
  const unknown = await request(gateway.server.baseUrl, 'GET', '/_hearth/status/assets/app.nothing.js');
  t.is(unknown.status, 404);
  t.is(unknown.body.errcode, 'M_NOT_FOUND');
});
