/**
 * `hearth backup` / `hearth restore` / `hearth export` (issue 14): a backup taken while the gateway
 * runs (room messages, sensor readings still in the telemetry journal) restores into a fresh data
 * directory on which a gateway serves the same events and the same sensor history; a restore into
 * the live directory, or over existing data without --force, is refused. A backup of a stopped
 * gateway's directory round-trips every database entry and file byte for byte.
 */
import test from 'ava';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Level } from 'level';
import { Database } from '../../src/storage/db.js';
import { startMqttGateway, type MqttGateway } from './mqtt-helpers/gateway.js';
import { runCli } from './helpers/server.js';
import { publish } from './mqtt-helpers/mosquitto.js';
import { request, sendText } from './helpers/http.js';

const hearth = runCli;

function tempDir(t: { teardown(fn: () => void): void }, prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function login(baseUrl: string, user: string, password: string): Promise<string> {
  const res = await request(baseUrl, 'POST', '/_matrix/client/v3/login', {
    json: { type: 'm.login.password', identifier: { type: 'm.id.user', user }, password },
  });
  if (res.status !== 200) throw new Error(`login ${user}: ${res.status} ${res.text}`);
  return res.body.access_token as string;
}

async function messages(baseUrl: string, token: string, roomId: string): Promise<unknown[]> {
  const res = await request(baseUrl, 'GET', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/messages?dir=b&limit=100`, { token });
  if (res.status !== 200) throw new Error(`/messages: ${res.status} ${res.text}`);
  return (res.body.chunk as Array<{ event_id: string; type: string; content: unknown; sender: string; origin_server_ts: number }>).map(
    ({ event_id, type, content, sender, origin_server_ts }) => ({ event_id, type, content, sender, origin_server_ts }),
  );
}

const SENSOR = 'tasmota.plug/energy.voltage';

async function exportedVoltages(env: Record<string, string>): Promise<{ ts: number; value: number }[]> {
  const res = await hearth(['export', SENSOR, '--json', '--from', '0'], env);
  if (res.code !== 0) throw new Error(`hearth export: ${res.code} ${res.stderr}`);
  return JSON.parse(res.stdout).points;
}

test('a backup of a running gateway restores into a fresh directory with the same events and sensor history', async (t) => {
  const gateway: MqttGateway = await startMqttGateway({ t });
  const liveEnv = { HEARTH_DATA_DIR: gateway.dataDir, HEARTH_SERVER_NAME: gateway.server.serverName };
  t.teardown(() => {
    if (!t.passed) t.log(gateway.server.output());
  });
  await gateway.addUser('alice', 'alice password', { admin: true });
  const token = await login(gateway.server.baseUrl, 'alice', 'alice password');
  const created = await request(gateway.server.baseUrl, 'POST', '/_matrix/client/v3/createRoom', { token, json: { name: 'kitchen' } });
  t.is(created.status, 200, created.text);
  const roomId = created.body.room_id as string;
  for (let i = 0; i < 5; i++) await sendText(gateway.server.baseUrl, token, roomId, `txn-${i}`, `message ${i}`);

  // Sensor readings, acknowledged (QoS 1): in the telemetry journal, no checkpoint yet.
  const plug = await gateway.addDevice('plug');
  const readings = [230, 231.5, 229, 232];
  for (const voltage of readings) {
    await publish({ port: gateway.server.mqttPort, username: plug.username, password: plug.password }, 'tele/plug/SENSOR', JSON.stringify({ ENERGY: { Voltage: voltage } }), { qos: 1 });
  }
  const before = await exportedVoltages(liveEnv);
  t.deepEqual(before.map((p) => p.value), readings);
  const csv = await hearth(['export', SENSOR, '--csv', '--from', '0'], liveEnv);
  t.is(csv.code, 0, csv.stderr);
  t.deepEqual(csv.stdout.trim().split('\n').slice(1).map((line) => Number(line.split(',')[2])), readings);
  t.is(csv.stdout.split('\n')[0], 'time,ts_ms,value');
  const roomBefore = await messages(gateway.server.baseUrl, token, roomId);

  // Backup while it runs (through the admin socket): no progress noise when not on a terminal.
  const archive = join(tempDir(t, 'hearth-backup-'), 'hearth.backup');
  const backup = await hearth(['backup', archive], liveEnv);
  t.is(backup.code, 0, backup.stderr);
  t.is(backup.stderr, '');
  t.regex(backup.stdout, /hearth\.backup: \d+ database entries, \d+ files/);
  t.false(existsSync(`${archive}.partial`));

  // Restoring over the live directory is refused, and leaves it alone.
  const refused = await hearth(['restore', archive, '--force'], liveEnv);
  t.is(refused.code, 3, refused.stderr);
  t.regex(refused.stderr, /a gateway is running on/);

  // Into a fresh directory: restored; a second time, refused without --force, accepted with it.
  const restoredDir = tempDir(t, 'hearth-restored-');
  const restoredEnv = { HEARTH_DATA_DIR: restoredDir, HEARTH_SERVER_NAME: gateway.server.serverName };
  const restored = await hearth(['restore', archive], restoredEnv);
  t.is(restored.code, 0, restored.stderr);
  t.regex(restored.stdout, /restored \d+ database entries and \d+ files/);
  const again = await hearth(['restore', archive], restoredEnv);
  t.is(again.code, 3);
  t.regex(again.stderr, /already holds Hearth data .*--force/);
  t.is((await hearth(['restore', archive, '--force'], restoredEnv)).code, 0);
  t.false(existsSync(join(restoredDir, 'restore.partial')));

  // The export works on a stopped gateway's directory too (the store opened by the command).
  t.deepEqual(await exportedVoltages(restoredEnv), before);

  // A gateway on the restored directory: same events, same history, same accounts.
  const copy = await startMqttGateway({ t, dataDir: restoredDir, env: { HEARTH_SERVER_NAME: gateway.server.serverName } });
  t.teardown(() => {
    if (!t.passed) t.log(copy.server.output());
  });
  const copyToken = await login(copy.server.baseUrl, 'alice', 'alice password');
  t.deepEqual(await messages(copy.server.baseUrl, copyToken, roomId), roomBefore);
  t.deepEqual(await exportedVoltages(restoredEnv), before);
});

test('a stopped gateway: backup and restore round-trip every entry and file byte for byte', async (t) => {
  const dataDir = tempDir(t, 'hearth-stopped-');
  const db = await Database.open(join(dataDir, 'db'), { cacheSizeBytes: 1 << 20, writeBufferSizeBytes: 1 << 20 });
  await db.write(Array.from({ length: 2500 }, (_, i) => db.put('meta', Buffer.from(`key-${i}`), Buffer.from([i & 0xff, 0, 0xff, i >> 8]))));
  await db.close();
  writeFileSync(join(dataDir, 'telemetry.journal'), Buffer.from('journal bytes \u0000\u0001'));
  writeFileSync(join(dataDir, 'signing.key'), 'ed25519 a_key c2VjcmV0\n');
  mkdirSync(join(dataDir, 'media'));
  writeFileSync(join(dataDir, 'media', 'AbCdEfGhIjKlMnOpQrStUvWx'), Buffer.alloc(300_000, 7));
  writeFileSync(join(dataDir, 'media', 'upload.part'), 'half an upload');

  const archive = join(tempDir(t, 'hearth-backup-'), 'offline.backup');
  const backup = await hearth(['backup', archive], { HEARTH_DATA_DIR: dataDir });
  t.is(backup.code, 0, backup.stderr);
  const target = tempDir(t, 'hearth-target-');
  const restore = await hearth(['restore', archive], { HEARTH_DATA_DIR: target });
  t.is(restore.code, 0, restore.stderr);

  t.deepEqual(await allEntries(join(target, 'db')), await allEntries(join(dataDir, 'db')));
  for (const file of ['telemetry.journal', 'signing.key', 'media/AbCdEfGhIjKlMnOpQrStUvWx']) {
    t.true(readFileSync(join(target, file)).equals(readFileSync(join(dataDir, file))), file);
  }
  t.false(existsSync(join(target, 'media', 'upload.part')), 'an unfinished upload is not carried');

  // A cut archive is refused and leaves the target as it was.
  const cut = join(tempDir(t, 'hearth-cut-'), 'cut.backup');
  writeFileSync(cut, readFileSync(archive).subarray(0, 2000));
  const fresh = tempDir(t, 'hearth-fresh-');
  const failed = await hearth(['restore', cut], { HEARTH_DATA_DIR: fresh });
  t.is(failed.code, 1);
  t.regex(failed.stderr, /hearth restore: /);
  t.false(existsSync(join(fresh, 'db')));
});

async function allEntries(path: string): Promise<string[]> {
  const db = new Level<Buffer, Buffer>(path, { keyEncoding: 'buffer', valueEncoding: 'buffer', createIfMissing: false });
  await db.open();
  try {
    const out: string[] = [];
    for await (const [k, v] of db.iterator()) out.push(`${k.toString('hex')}=${v.toString('hex')}`);
    return out;
  } finally {
    await db.close();
  }
}
