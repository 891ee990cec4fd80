/**
 * The series read at scrape time copy the services' own counters (federation queues, the bridge,
 * the broker), and the storage size comes from the disk; parsed back with a Prometheus text parser.
 */
import test from 'ava';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { GatewayMetrics, type MetricSources } from '../../src/metrics/gateway-metrics.js';
import { createBrokerStats } from '../../src/mqtt/broker/stats.js';
import type { DestinationStatus } from '../../src/federation/send/sender.js';

interface Family {
  name: string;
  metrics: { value: string; labels?: Record<string, string> }[];
}

function destination(name: string, fields: Partial<DestinationStatus>): DestinationStatus {
  return { destination: name, position: 0, failures: 0, backingOff: false, outbox: 0, ephemeral: 0, transactions: 0, pdus: 0, catchUps: 0, sendFailures: 0, refused: 0, ...fields };
}

async function families(metrics: GatewayMetrics): Promise<Map<string, Family>> {
  const { body } = await metrics.render();
  return new Map((parsePrometheusTextFormat(body) as Family[]).map((f) => [f.name, f]));
}

function valueOf(all: Map<string, Family>, name: string, labels: Record<string, string> = {}): number | undefined {
  const sample = all.get(name)?.metrics.find((s) => Object.entries(labels).every(([k, v]) => s.labels?.[k] === v));
  return sample === undefined ? undefined : Number(sample.value);
}

test('federation series per destination follow the queues, and the counters copy the services', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hearth-metrics-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, '000005.ldb'), Buffer.alloc(3000));
  writeFileSync(join(dir, 'LOG'), Buffer.alloc(100));

  let destinations = [destination('a.example', { position: 90, outbox: 2, ephemeral: 1, sendFailures: 4, transactions: 7 })];
  const brokerStats = createBrokerStats();
  const bridge = { stats: { messages: 0, unknownTopics: 0, malformed: 0, readings: 0, failures: 0, commandsPublished: 0, commandsRefused: 0, foreignClaims: 0, valuesIgnored: 0 }, pendingRoomWork: 0 };
  const sources: MetricSources = {
    storageDir: dir,
    sync: { stats: { wakeups: 5, parked: 2 } },
    mqtt: { stats: () => brokerStats, clientCount: () => 3 },
    bridge,
    telemetry: { journalBytesWritten: 1234 },
    thumbnails: { depth: { running: 1, waiting: 4 }, stats: { made: 9, refused: { busy: 2, tooLarge: 1, unusable: 3 } } },
    federation: { destinations: () => destinations, streamHead: () => 100 },
  };
  const metrics = new GatewayMetrics();
  metrics.watch(sources);

  let all = await families(metrics);
  t.is(valueOf(all, 'hearth_federation_queue_depth', { destination: 'a.example' }), 3);
  t.is(valueOf(all, 'hearth_federation_stream_lag', { destination: 'a.example' }), 10);
  t.is(valueOf(all, 'hearth_federation_send_failures_total', { destination: 'a.example' }), 4);
  t.is(valueOf(all, 'hearth_federation_transactions_total', { destination: 'a.example' }), 7);
  t.is(valueOf(all, 'hearth_sync_wakeups_total'), 5);
  t.is(valueOf(all, 'hearth_sync_long_polls'), 2);
  t.is(valueOf(all, 'hearth_mqtt_clients'), 3);
  t.is(valueOf(all, 'hearth_telemetry_bytes_written_total'), 1234);
  t.is(valueOf(all, 'hearth_storage_bytes'), 3100);
  t.is(valueOf(all, 'hearth_thumbnails_made_total'), 9);
  t.is(valueOf(all, 'hearth_thumbnails_refused_total', { reason: 'busy' }), 2);
  t.is(valueOf(all, 'hearth_thumbnails_refused_total', { reason: 'too_large' }), 1);
  t.is(valueOf(all, 'hearth_thumbnails_refused_total', { reason: 'unusable' }), 3);
  t.is(valueOf(all, 'hearth_thumbnail_jobs', { state: 'waiting' }), 4);
  t.truthy(all.get('hearth_process_resident_memory_bytes'), 'process metrics from the first scrape');

  destinations = [destination('a.example', { position: 100, sendFailures: 6 }), destination('b.example', { position: 100, sendFailures: 1 })];
  brokerStats.authFailures = 2;
  bridge.stats.messages = 9;
  bridge.stats.readings = 8;
  bridge.pendingRoomWork = 1;
  all = await families(metrics);
  t.is(valueOf(all, 'hearth_federation_queue_depth', { destination: 'a.example' }), 0);
  t.is(valueOf(all, 'hearth_federation_stream_lag', { destination: 'a.example' }), 0);
  t.is(valueOf(all, 'hearth_federation_send_failures_total', { destination: 'a.example' }), 6);
  t.is(valueOf(all, 'hearth_federation_send_failures_total', { destination: 'b.example' }), 1);
  t.is(valueOf(all, 'hearth_mqtt_refused_total', { reason: 'auth' }), 2);
  t.is(valueOf(all, 'hearth_mqtt_messages_total'), 9);
  t.is(valueOf(all, 'hearth_sensor_readings_total'), 8);
  t.is(valueOf(all, 'hearth_bridge_pending_room_work'), 1);
});

test('in external-broker mode there is no client gauge (that broker knows its clients)', async (t) => {
  const metrics = new GatewayMetrics();
  metrics.watch({
    storageDir: join(tmpdir(), 'hearth-metrics-missing-dir'),
    sync: { stats: { wakeups: 0, parked: 0 } },
    mqtt: { stats: createBrokerStats },
    bridge: { stats: { messages: 0, unknownTopics: 0, malformed: 0, readings: 0, failures: 0, commandsPublished: 0, commandsRefused: 0, foreignClaims: 0, valuesIgnored: 0 }, pendingRoomWork: 0 },
    telemetry: { journalBytesWritten: 0 },
    federation: { destinations: () => [], streamHead: () => 0 },
  });
  const all = await families(metrics);
  t.false(all.has('hearth_mqtt_clients'));
  t.is(valueOf(all, 'hearth_storage_bytes'), 0, 'a missing directory is empty');
});
