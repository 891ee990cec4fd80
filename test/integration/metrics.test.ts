/**
 * Issue 14 "Metrics": `/metrics` of the real gateway, parsed by a Prometheus text-format parser
 * (parse-prometheus-text-format), moves under a small load: a registration, a room with messages
 * sent through the Client-Server API while a /sync long-poll waits, and an MQTT device publishing
 * readings. Route labels are route patterns, never the URLs clients sent.
 */
import test from 'ava';
import mqtt from 'mqtt';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { registerUser, request, sendText } from './helpers/http.js';
import { FAST_BRIDGE_YAML, startMqttGateway, type MqttGateway } from './mqtt-helpers/gateway.js';

interface Sample {
  value?: string;
  labels?: Record<string, string>;
}
interface Family {
  name: string;
  type: string;
  metrics: Sample[];
}

let gateway: MqttGateway;

test.before(async () => {
  gateway = await startMqttGateway({ configYaml: FAST_BRIDGE_YAML });
});

test.afterEach.always((t) => {
  if (!t.passed) t.log(gateway.server.output());
});

test.after.always(async () => {
  await gateway?.stop();
});

/** One scrape: the raw text and its metric families by name. */
async function scrape(baseUrl: string): Promise<{ text: string; families: Map<string, Family> }> {
  const res = await fetch(`${baseUrl}/metrics`);
  if (res.status !== 200) throw new Error(`/metrics answered ${res.status}: ${await res.text()}`);
  const contentType = res.headers.get('content-type') ?? '';
  if (!contentType.startsWith('text/plain; version=0.0.4')) throw new Error(`/metrics content type ${contentType}`);
  const text = await res.text();
  const families = new Map((parsePrometheusTextFormat(text) as Family[]).map((f) => [f.name, f]));
  return { text, families };
}

/** The sum of a family's samples whose labels include `labels` (0 when there are none yet). */
function total(families: Map<string, Family>, name: string, labels: Record<string, string> = {}): number {
  const family = families.get(name);
  if (!family) throw new Error(`no ${name} in /metrics`);
  return family.metrics
    .filter((s) => Object.entries(labels).every(([k, v]) => s.labels?.[k] === v))
    .reduce((sum, s) => sum + Number(s.value), 0);
}

/**
 * A histogram's observation count for one label set. The parser folds labelled histograms into one
 * bucket map and drops their `_count`, so this reads the `_count` sample line of the text it parsed.
 */
function histogramCount(text: string, name: string, labels: Record<string, string>): number {
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  const line = text.split('\n').find((l) => l.startsWith(`${name}_count{`) && wanted.every((w) => l.includes(w)));
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
}

test.serial('the named series move under a small load, and routes are labelled by pattern', async (t) => {
  const { baseUrl } = gateway.server;
  const before = await scrape(baseUrl);
  for (const name of [
    'hearth_http_requests_total',
    'hearth_http_request_duration_seconds',
    'hearth_events_persisted_total',
    'hearth_sync_wakeups_total',
    'hearth_sync_long_polls',
    'hearth_mqtt_clients',
    'hearth_mqtt_messages_total',
    'hearth_sensor_readings_total',
    'hearth_bridge_pending_room_work',
    'hearth_telemetry_bytes_written_total',
    'hearth_storage_bytes',
    'hearth_federation_queue_depth',
    'hearth_federation_send_failures_total',
    'hearth_process_resident_memory_bytes',
    'hearth_nodejs_eventloop_lag_seconds',
  ]) {
    t.true(before.families.has(name), `${name} is exposed`);
  }
  t.is(before.families.get('hearth_http_request_duration_seconds')?.type, 'HISTOGRAM');
  t.true(total(before.families, 'hearth_storage_bytes') > 0, 'LevelDB has files');
  t.true(total(before.families, 'hearth_process_resident_memory_bytes') > 0);

  // ---- Client-Server load: a user, a room, messages while a /sync long-poll waits
  const alice = await registerUser(baseUrl, 'alice', 'alice password');
  const created = await request(baseUrl, 'POST', '/_matrix/client/v3/createRoom', { token: alice.accessToken, json: { name: 'metrics' } });
  t.is(created.status, 200, created.text);
  const roomId: string = created.body.room_id;
  const initial = await request(baseUrl, 'GET', '/_matrix/client/v3/sync?timeout=0', { token: alice.accessToken });
  t.is(initial.status, 200, initial.text);
  const longPoll = request(baseUrl, 'GET', `/_matrix/client/v3/sync?timeout=60000&since=${encodeURIComponent(initial.body.next_batch)}`, { token: alice.accessToken });
  // Sent only once the long-poll is parked: sent earlier, the messages would answer it without a wait.
  while (total((await scrape(baseUrl)).families, 'hearth_sync_long_polls') < 1) await new Promise((r) => setTimeout(r, 20));
  const messages = 3;
  for (let i = 0; i < messages; i++) await sendText(baseUrl, alice.accessToken, roomId, `txn-${i}`, `message ${i}`);
  const woken = await longPoll;
  t.is(woken.status, 200, woken.text);
  t.truthy(woken.body.rooms?.join?.[roomId], 'the long-poll was answered with the new messages');
  const unknownPath = `/no-such-path-${Date.now()}`;
  t.is((await request(baseUrl, 'GET', unknownPath)).status, 404);

  // ---- MQTT load: a device publishing readings at QoS 1 (each acknowledged once stored)
  const plug = await gateway.addDevice('plug');
  const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${gateway.server.mqttPort}`, {
    username: plug.username,
    password: plug.password,
    clientId: 'plug-metrics',
    reconnectPeriod: 0,
  });
  const readings = 3;
  let whileConnected: Awaited<ReturnType<typeof scrape>>;
  try {
    for (let i = 0; i < readings; i++) {
      await client.publishAsync('tele/plug/SENSOR', JSON.stringify({ ENERGY: { Voltage: 230 + i } }), { qos: 1 });
    }
    whileConnected = await scrape(baseUrl);
  } finally {
    await client.endAsync();
  }
  t.true(total(whileConnected.families, 'hearth_mqtt_clients') >= 1, 'the connected device is counted');

  const after = await scrape(baseUrl);
  const moved = (name: string, labels: Record<string, string> = {}) => total(after.families, name, labels) - total(before.families, name, labels);

  // HTTP: the send route by its pattern, never by the room id or transaction id in the URL.
  const sends = after.families.get('hearth_http_requests_total')!.metrics.filter((s) => s.labels?.method === 'PUT' && s.labels.route?.includes('/send/'));
  t.is(sends.length, 1, JSON.stringify(sends));
  const sendRoute = sends[0]!.labels!.route!;
  t.false(sendRoute.includes(roomId) || sendRoute.includes('txn-'), `route label ${sendRoute} is a pattern`);
  t.true(moved('hearth_http_requests_total', { route: sendRoute, method: 'PUT', status: '200' }) >= messages);
  t.true(histogramCount(after.text, 'hearth_http_request_duration_seconds', { route: sendRoute, method: 'PUT' }) >= messages);
  t.true(moved('hearth_http_requests_total', { route: 'unmatched', method: 'GET', status: '404' }) >= 1);
  t.false(after.text.includes(unknownPath), 'an unknown URL creates no series');

  // Events: room creation (create, member, power levels, ...) and the messages, all local.
  t.true(moved('hearth_events_persisted_total', { origin: 'local' }) >= messages + 3);
  t.is(moved('hearth_events_persisted_total', { origin: 'remote' }), 0);
  t.true(moved('hearth_sync_wakeups_total') >= 1, 'the long-poll was woken by a change');

  // MQTT and the bridge.
  t.true(moved('hearth_mqtt_messages_total') >= readings);
  t.true(moved('hearth_sensor_readings_total') >= readings);
  t.true(moved('hearth_telemetry_bytes_written_total') > 0, 'the readings went through the journal');
  t.is(total(after.families, 'hearth_mqtt_refused_total', { reason: 'auth' }), 0);
});

test.serial('a scrape of /metrics is itself counted under its route', async (t) => {
  const { baseUrl } = gateway.server;
  const first = await scrape(baseUrl);
  const second = await scrape(baseUrl);
  const scrapes = (f: Map<string, Family>) => total(f, 'hearth_http_requests_total', { route: '/metrics', method: 'GET', status: '200' });
  t.true(scrapes(second.families) >= scrapes(first.families) + 1);
});
