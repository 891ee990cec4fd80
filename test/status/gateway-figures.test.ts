/**
 * The gateway's figures (src/status/gateway-figures.ts) with the counters, the kernel's write count
 * and the clocks given: one snapshot read when asked (no timer), the rates and the write history fed
 * from the same reading, the history kept across a restart, and the two views of it (the status
 * page's panel, `gateway.status` on the admin socket) saying the same.
 */
import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../helpers/temp-dir.js';
import { gatewayStatus } from '../../src/admin/gateway-status.js';
import type { DestinationStatus } from '../../src/federation/send/sender.js';
import { DISK_WRITES_FILE, parseHistory } from '../../src/metrics/disk-writes.js';
import { GatewayFigures, type GatewayFigureSources } from '../../src/status/gateway-figures.js';
import { gatewayView } from '../../src/status/status-service.js';

const HOUR = 3600_000;
const T0 = Date.UTC(2027, 0, 1, 10, 0, 0);

/** A gateway's sources with a hand-driven clock and counters. */
function fakeGateway(dataDir: string, startedAt = T0) {
  const state = {
    wall: startedAt,
    mono: 0,
    events: 0,
    readings: 0,
    mqttMessages: 0,
    journalBytes: 0,
    writeBytes: 5_000_000 as number | undefined,
    destinations: [] as DestinationStatus[],
    head: 0,
    reads: 0,
  };
  const sources: GatewayFigureSources = {
    serverName: 'home.example',
    version: '9.9.9',
    startedAt,
    dataDir,
    counters: () => (state.reads++, { events: state.events, readings: state.readings, mqttMessages: state.mqttMessages, journalBytes: state.journalBytes }),
    mqttClients: () => 3,
    clock: () => ({ sane: true, nowMs: state.wall }),
    destinations: () => state.destinations,
    streamHead: () => state.head,
    writeBytes: () => state.writeBytes,
    memory: () => ({ rss: 80_000_000, heapUsed: 30_000_000 }),
    now: () => state.wall,
    monotonic: () => state.mono,
  };
  const advance = (ms: number) => {
    state.wall += ms;
    state.mono += ms;
  };
  return { state, sources, advance };
}

test('one snapshot when asked: rates over the last minute, writes per hour and per day, peers', async (t) => {
  const dataDir = tempDir(t, 'hearth-figures-');
  const { state, sources, advance } = fakeGateway(dataDir);
  const figures = new GatewayFigures(sources);
  await figures.start();
  t.is(state.reads, 1, 'the start reads the counters once');
  // Asked every 10 s for an hour: 2 events/s, 5 readings/s, 1000 bytes written a second.
  for (let i = 0; i < 360; i++) {
    advance(10_000);
    state.events += 20;
    state.readings += 50;
    state.mqttMessages += 60;
    state.journalBytes += 1000;
    state.writeBytes! += 10_000;
    if (i < 359) await figures.snapshot();
  }
  t.is(state.reads, 360, 'one reading per ask');
  state.head = 40;
  state.destinations = [
    { destination: 'matrix.example.org', position: 40, failures: 0, backingOff: false, outbox: 0, ephemeral: 0, transactions: 12, pdus: 30, catchUps: 0, sendFailures: 0, refused: 0 },
    { destination: 'cabin.example', position: 33, failures: 4, backingOff: true, outbox: 10, ephemeral: 2, transactions: 1, pdus: 1, catchUps: 1, sendFailures: 4, refused: 0 },
  ];
  const s = await figures.snapshot();
  t.is(s.uptimeSeconds, 3600);
  t.is(s.startedAtMs, T0);
  t.is(s.eventsPerSecond, 2);
  t.is(s.readingsPerSecond, 5);
  t.is(s.mqttMessagesPerSecond, 6);
  t.is(s.rateWindowSeconds, 60);
  t.deepEqual(s.writes, { bytesPerHour: 3_600_000, journalBytesPerHour: 360_000, windowSeconds: 3600, bytesPerDay: 86_400_000, historySeconds: 3600 });
  t.is(s.mqttClients, 3);
  t.true(s.disk.usedBytes >= 0 && s.disk.totalBytes! >= s.disk.freeBytes!);
  t.deepEqual(s.peers[1], { server: 'cabin.example', reachable: false, failures: 4, backingOff: true, queueDepth: 12, streamLag: 7, transactions: 1, sendFailures: 4 });

  // Both views are of this one snapshot.
  const page = gatewayView(s);
  const admin = gatewayStatus(s, { client: 8008, federation: 8448, mqtt: 1883 });
  t.is(page.writes.bytes_per_hour, admin.disk.writtenPerHour);
  t.is(page.events_per_second, admin.eventsPerSecond);
  t.is(page.readings_per_second, admin.readingsPerSecond);
  t.is(page.uptime_seconds, admin.uptimeSeconds);
  t.is(page.disk.free_bytes, admin.disk.freeBytes!);
  t.deepEqual(page.federation.peers[1], { server: 'cabin.example', reachable: false, failures: 4, backing_off: true, queue_depth: 12, stream_lag: 7, transactions: 1, send_failures: 4 });
  t.deepEqual(admin.peers[1], { server: 'cabin.example', reachable: false, failures: 4, retryPending: true, queueDepth: 12, streamLag: 7 });
  t.is(admin.disk.writtenPerDay, 86_400_000);
  t.is(page.federation.clock_ok, true);
});

test('an unwatched gateway: its first ask after hours gets averages over them, and the day figure survives a restart', async (t) => {
  const dataDir = tempDir(t, 'hearth-figures-');
  const { state, sources, advance } = fakeGateway(dataDir);
  const figures = new GatewayFigures(sources);
  await figures.start();
  // Five hours nobody asks: 2000 bytes written a second, 1 event a second.
  advance(5 * HOUR);
  state.writeBytes! += 2000 * 5 * 3600;
  state.events += 5 * 3600;
  const s = await figures.snapshot();
  t.is(s.writes.windowSeconds, 5 * 3600);
  t.is(s.writes.bytesPerHour, 7_200_000);
  t.is(s.eventsPerSecond, 1);
  t.is(s.writes.bytesPerDay, 172_800_000);
  t.is(s.writes.historySeconds, 5 * 3600);
  figures.stop();
  const saved = parseHistory(readFileSync(join(dataDir, DISK_WRITES_FILE), 'utf8'));
  t.is(saved.length, 5, 'spread over the five clock hours');

  // A restart a day later: the counter starts again, the write history does not.
  const restarted = fakeGateway(dataDir, T0 + 29 * HOUR);
  restarted.state.writeBytes = 0;
  const again = new GatewayFigures(restarted.sources);
  await again.start();
  restarted.advance(HOUR);
  restarted.state.writeBytes = 1000 * 3600;
  const after = await again.snapshot();
  t.is(after.writes.bytesPerHour, 3_600_000);
  t.is(after.writes.historySeconds, 6 * 3600);
  t.is(after.writes.bytesPerDay, Math.round(((2000 * 5 * 3600 + 1000 * 3600) / (6 * 3600)) * 86_400));
  again.stop();
});

test('where the kernel does not count writes, the write figures are null and nothing is kept', async (t) => {
  const dataDir = tempDir(t, 'hearth-figures-');
  const { state, sources, advance } = fakeGateway(dataDir);
  state.writeBytes = undefined;
  const figures = new GatewayFigures(sources);
  await figures.start();
  advance(60_000);
  state.journalBytes = 6000;
  const s = await figures.snapshot();
  t.is(s.writes.bytesPerHour, null);
  t.is(s.writes.bytesPerDay, null);
  t.is(s.writes.historySeconds, 0);
  t.is(s.writes.journalBytesPerHour, 360_000);
  t.is(gatewayStatus(s, { client: 1, federation: 2, mqtt: null }).disk.writtenPerHour, null);
  t.is(gatewayView(s).writes.bytes_per_hour, null);
  figures.stop();
  t.throws(() => readFileSync(join(dataDir, DISK_WRITES_FILE)));
});
