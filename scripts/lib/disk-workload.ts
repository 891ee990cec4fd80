/**
 * Disk wear and memory under a house full of sensors: a simulated fleet publishes at a fixed rate;
 * after a warm-up, the server's `write_bytes` (/proc/<pid>/io) and acknowledged readings are
 * sampled, and their ratio is the bytes written per reading at steady state.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CONVENTIONS } from '../../devices/agent/conventions/index.js';
import { Fleet, type MqttCredentials } from '../../devices/simulators/fleet.js';
import { rssBytes, writeBytes } from './proc.js';

export interface DiskRunOptions {
  brokerUrl: string;
  serverPid: number;
  devices: number;
  rateHz: number;
  warmupSeconds: number;
  measureSeconds: number;
  credentials?: (deviceId: string) => MqttCredentials | undefined;
}

export interface DiskRunResult {
  readings: number;
  bytesWritten: number;
  bytesPerReading: number;
  rssBytes: number;
  peakRssBytes: number;
  connected: number;
}

export const FLEET_PREFIX = 'bench-';

export async function runFleetDiskLoad(options: DiskRunOptions): Promise<DiskRunResult> {
  const queueRoot = mkdtempSync(join(tmpdir(), 'hearth-bench-fleet-'));
  const fleet = new Fleet({
    brokerUrl: options.brokerUrl,
    convention: CONVENTIONS.zigbee2mqtt,
    count: options.devices,
    rateHz: options.rateHz,
    idPrefix: FLEET_PREFIX,
    queueRoot,
    credentials: options.credentials,
  });
  try {
    await fleet.start(60_000);
    fleet.startSampling();
    await sleep(options.warmupSeconds * 1000);
    const startBytes = writeBytes(options.serverPid);
    const startAcked = fleet.stats().acknowledged;
    let peakRss = 0;
    const sampler = setInterval(() => (peakRss = Math.max(peakRss, rssBytes(options.serverPid))), 1000);
    await sleep(options.measureSeconds * 1000);
    clearInterval(sampler);
    const readings = fleet.stats().acknowledged - startAcked;
    const bytesWritten = writeBytes(options.serverPid) - startBytes;
    const rss = rssBytes(options.serverPid);
    return {
      readings,
      bytesWritten,
      bytesPerReading: bytesWritten / readings,
      rssBytes: rss,
      peakRssBytes: Math.max(peakRss, rss),
      connected: fleet.stats().connected,
    };
  } finally {
    await fleet.stop();
    rmSync(queueRoot, { recursive: true, force: true });
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, ms));
}
