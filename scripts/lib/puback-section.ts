/**
 * `make bench --only puback` (issue 14, "A lone device's PUBACK"): PUBACK latency of a device with
 * one QoS 1 message in flight, alone and as one device among a fleet at 1 Hz, with the adaptive
 * group commit (`telemetry.commit.mode: adaptive`, the default) against the interval commit (the
 * policy before issue 14) in the same run, each on a fresh gateway. Under the fleet also: bytes the
 * server process wrote per acknowledged reading (`write_bytes`, as the disk section), the journal's
 * bytes per reading, and group commits per second (journal records, puback-workload.ts).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CONVENTIONS } from '../../devices/agent/conventions/index.js';
import { Fleet } from '../../devices/simulators/fleet.js';
import { FLEET_PREFIX } from './disk-workload.js';
import { writeBytes } from './proc.js';
import { addHearthDevices, startHearth, type HearthLaunch } from './processes.js';
import { JournalSampler, pubackLatencies } from './puback-workload.js';
import type { ResultRow } from './report.js';
import { percentile } from './stats.js';

export interface PubackSizes {
  devices: number;
  /** Readings the lone probe publishes (each after the previous PUBACK, 250 ms apart). */
  loneReadings: number;
  /** Fleet warm-up (device rooms created, first state events sent) before anything is measured. */
  fleetWarmupSeconds: number;
  /** The measured window under the fleet; the probe publishes at 1 Hz during it. */
  fleetMeasureSeconds: number;
}

type Mode = 'adaptive' | 'interval';

interface ModeResult {
  lone: number[];
  amongFleet: number[];
  bytesPerReading: number;
  journalBytesPerReading: number;
  commitsPerSecond: number;
  readings: number;
}

const PROBE = 'bench-probe';

async function measureMode(launch: HearthLaunch, sizes: PubackSizes, mode: Mode, log: (line: string) => void): Promise<ModeResult> {
  const hearth = await startHearth({ ...launch, env: { ...launch.env, HEARTH_TELEMETRY_COMMIT_MODE: mode } });
  const queueRoot = mkdtempSync(join(tmpdir(), 'hearth-bench-puback-'));
  try {
    const names = [PROBE, ...Array.from({ length: sizes.devices }, (_, i) => `${FLEET_PREFIX}${i}`)];
    const creds = await addHearthDevices(hearth, names);
    const probe = { id: PROBE, ...creds.get(PROBE)! };
    // The probe's first messages create its device room: not what a device waits for every time.
    await pubackLatencies(hearth.mqttUrl, probe, 3, 250);
    log(`puback ${mode}: lone device`);
    const lone = await pubackLatencies(hearth.mqttUrl, probe, sizes.loneReadings, 250);

    log(`puback ${mode}: ${sizes.devices} devices at 1 Hz, ${sizes.fleetWarmupSeconds} s warm-up`);
    const fleet = new Fleet({
      brokerUrl: hearth.mqttUrl,
      convention: CONVENTIONS.zigbee2mqtt,
      count: sizes.devices,
      rateHz: 1,
      idPrefix: FLEET_PREFIX,
      queueRoot,
      credentials: (id) => creds.get(id),
    });
    try {
      await fleet.start(60_000);
      fleet.startSampling();
      await sleep(sizes.fleetWarmupSeconds * 1000);
      const startBytes = writeBytes(hearth.server.pid);
      const startAcked = fleet.stats().acknowledged;
      const journal = new JournalSampler(join(hearth.dataDir, 'telemetry.journal'));
      const started = performance.now();
      log(`puback ${mode}: probe among them for ${sizes.fleetMeasureSeconds} s`);
      // 1 Hz like the fleet: the wait for the PUBACK is part of the second.
      const amongFleet: number[] = [];
      const deadline = started + sizes.fleetMeasureSeconds * 1000;
      while (performance.now() < deadline) {
        const tick = performance.now();
        amongFleet.push(...(await pubackLatencies(hearth.mqttUrl, probe, 1, 0)));
        await sleep(Math.max(0, 1000 - (performance.now() - tick)));
      }
      const elapsedS = (performance.now() - started) / 1000;
      const written = journal.stop();
      const readings = fleet.stats().acknowledged - startAcked + amongFleet.length;
      return {
        lone,
        amongFleet,
        bytesPerReading: (writeBytes(hearth.server.pid) - startBytes) / readings,
        journalBytesPerReading: written.bytes / readings,
        commitsPerSecond: written.commits / elapsedS,
        readings,
      };
    } finally {
      await fleet.stop();
    }
  } finally {
    await hearth.server.stop();
    rmSync(queueRoot, { recursive: true, force: true });
  }
}

export async function puback(launch: HearthLaunch, sizes: PubackSizes, log: (line: string) => void): Promise<ResultRow[]> {
  const adaptive = await measureMode(launch, sizes, 'adaptive', log);
  const interval = await measureMode(launch, sizes, 'interval', log);
  const base = { section: 'PUBACK', baselineName: 'interval commit' };
  const fleetLabel = `one device among ${sizes.devices} at 1 Hz`;
  const windowLabel = `${sizes.devices} devices at 1 Hz, ${sizes.fleetMeasureSeconds} s, ${adaptive.readings} / ${interval.readings} readings`;
  return [
    { ...base, metric: `lone device, QoS 1, one in flight, p50 (${sizes.loneReadings} readings)`, unit: 'ms', digits: 1, hearth: percentile(adaptive.lone, 50), baseline: percentile(interval.lone, 50), target: '<= 20 ms' },
    { ...base, metric: 'lone device, p99', unit: 'ms', digits: 1, hearth: percentile(adaptive.lone, 99), baseline: percentile(interval.lone, 99) },
    { ...base, metric: `${fleetLabel}, p50 (${adaptive.amongFleet.length} / ${interval.amongFleet.length} readings)`, unit: 'ms', digits: 1, hearth: percentile(adaptive.amongFleet, 50), baseline: percentile(interval.amongFleet, 50) },
    { ...base, metric: `${fleetLabel}, p99`, unit: 'ms', digits: 1, hearth: percentile(adaptive.amongFleet, 99), baseline: percentile(interval.amongFleet, 99) },
    { ...base, metric: `bytes written per reading (write_bytes, ${windowLabel})`, unit: 'B', digits: 1, hearth: adaptive.bytesPerReading, baseline: interval.bytesPerReading, target: '<= 64 B/reading' },
    { ...base, metric: 'telemetry journal bytes per reading (same window)', unit: 'B', digits: 1, hearth: adaptive.journalBytesPerReading, baseline: interval.journalBytesPerReading },
    { ...base, metric: 'group commits per second (same window)', unit: '/s', digits: 1, hearth: adaptive.commitsPerSecond, baseline: interval.commitsPerSecond, target: '<= 20 /s (1000 / min_interval_ms)' },
  ];
}

function sleep(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, ms));
}
