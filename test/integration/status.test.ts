/**
 * `hearth status` (issue 14, the operator's CLI) against a spawned gateway: the summary's numbers are
 * the gateway's (MQTT clients counted as mqtt.js clients connect and leave, readings and events per
 * second moving after readings and messages, RSS as the kernel reports it for the gateway's pid,
 * version, ports), in text and JSON; with the gateway stopped it says so and exits 3.
 */
import test from 'ava';
import { readFileSync } from 'node:fs';
import mqtt from 'mqtt';
import type { GatewayStatus } from '../../src/admin/gateway-status.js';
import { REPO_ROOT, startMqttGateway } from './mqtt-helpers/gateway.js';
import { runCli } from './helpers/server.js';
import { registerUser, request, sendText } from './helpers/http.js';

const hearth = (args: string[], dataDir: string) => runCli(args, { HEARTH_DATA_DIR: dataDir });

async function statusJson(dataDir: string): Promise<GatewayStatus> {
  const res = await hearth(['status', '--json'], dataDir);
  if (res.code !== 0) throw new Error(`hearth status --json: ${res.code} ${res.stderr}`);
  return JSON.parse(res.stdout) as GatewayStatus;
}

/** VmRSS of a process, as the kernel reports it. */
function kernelRss(pid: number): number {
  const kb = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(kb![1]) * 1024;
}

test('status reports the running gateway: MQTT clients, readings and events per second, RSS, disk, ports', async (t) => {
  const spawnedAt = Date.now();
  const gateway = await startMqttGateway({ t });
  t.teardown(() => {
    if (!t.passed) t.log(gateway.server.output());
  });
  const { server, dataDir } = gateway;
  const plug = await gateway.addDevice('plug');

  const idle = await statusJson(dataDir);
  t.is(idle.mqttClients, 0);
  t.is(idle.serverName, server.serverName);
  t.is(idle.pid, server.pid()!);
  t.is(idle.version, JSON.parse(readFileSync(`${REPO_ROOT}/package.json`, 'utf8')).version);
  t.deepEqual(idle.ports, { client: server.port, federation: server.federationPort, mqtt: server.mqttPort });
  t.true(idle.uptimeSeconds >= 0 && idle.uptimeSeconds <= (Date.now() - spawnedAt) / 1000 + 1);
  t.is(idle.readingsPerSecond, 0);
  t.deepEqual(idle.peers, []);
  t.true(idle.clock.sane);
  t.true(idle.disk.usedBytes > 0 && idle.disk.freeBytes! > 0 && idle.disk.totalBytes! >= idle.disk.freeBytes!);
  t.is(typeof idle.disk.writtenPerHour, 'number', 'Linux counts the writes (/proc/self/io)');
  const rss = kernelRss(server.pid()!);
  t.true(Math.abs(idle.rssBytes - rss) < rss * 0.25, `status RSS ${idle.rssBytes}, kernel ${rss}`);

  // One device connected with mqtt.js, five readings acknowledged; a person sends messages.
  const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${server.mqttPort}`, { username: plug.username, password: plug.password, clientId: 'plug-status', reconnectPeriod: 0 });
  t.teardown(async () => void (await client.endAsync()));
  for (const voltage of [230, 231, 229, 232, 233]) {
    await client.publishAsync('tele/plug/SENSOR', JSON.stringify({ ENERGY: { Voltage: voltage } }), { qos: 1 });
  }
  const person = await registerUser(server.baseUrl, 'status-person', 'status person password');
  const room = await request(server.baseUrl, 'POST', '/_matrix/client/v3/createRoom', { token: person.accessToken, json: {} });
  t.is(room.status, 200);
  for (let i = 0; i < 3; i++) await sendText(server.baseUrl, person.accessToken, room.body.room_id, `status-${i}`, `message ${i}`);

  const busy = await statusJson(dataDir);
  t.is(busy.mqttClients, 1);
  t.true(busy.readingsPerSecond > 0, `readings/s ${busy.readingsPerSecond}`);
  t.true(busy.eventsPerSecond > 0, `events/s ${busy.eventsPerSecond}`);
  t.true(busy.disk.usedBytes >= idle.disk.usedBytes);

  const text = await hearth(['status'], dataDir);
  t.is(text.code, 0, text.stderr);
  t.regex(text.stdout, new RegExp(`^Hearth \\S+, server name ${server.serverName.replace('.', '\\.')}, up .* \\(pid ${server.pid()}\\)$`, 'm'));
  t.regex(text.stdout, new RegExp(`^mqtt +1 client on port ${server.mqttPort}$`, 'm'));
  t.regex(text.stdout, /^memory +RSS \d+\.\d MB$/m);
  t.regex(text.stdout, /^writes +\S+ \S+\/hour, \S+ \S+\/day/m);
  t.regex(text.stdout, /^federation +no peer servers$/m);
  t.true(text.stdout.trim().split('\n').length <= 24, 'one screen');

  await client.endAsync();
  // The broker counts the client gone once it has seen the DISCONNECT.
  let after = await statusJson(dataDir);
  while (after.mqttClients !== 0) after = await statusJson(dataDir);
  t.is(after.mqttClients, 0);

  await server.kill('SIGTERM');
  const stopped = await hearth(['status'], dataDir);
  t.is(stopped.code, 3);
  t.regex(stopped.stderr, /the gateway is not running on .*Start it with "hearth run"/);
  t.is(stopped.stdout, '');
});
