/**
 * Issue 14: how long a device waits for its PUBACK. A probe device publishes Zigbee2MQTT climate
 * readings at QoS 1 with one message in flight (as mosquitto_pub and many ESP firmwares do), and
 * each publish is timed from the call to the PUBACK. Run alone, and as one device among a fleet.
 *
 * The journal sampler counts what the telemetry store wrote meanwhile: each record of
 * `<data dir>/telemetry.journal` is one group commit (journal-file.ts), so records per second are
 * commits per second and the file's growth is the journal's bytes. A checkpoint empties the file;
 * a shrink is taken as that and counting restarts from the empty file.
 */
import { readFileSync, existsSync } from 'node:fs';
import mqtt from 'mqtt';
import { CONVENTIONS } from '../../devices/agent/conventions/index.js';
import { ClimateSensor } from '../../devices/simulators/models.js';
import { readRecords } from '../../src/telemetry/journal-file.js';

export interface ProbeDevice {
  id: string;
  username: string;
  password: string;
}

/** Publishes `count` readings one after the other, `gapMs` apart; resolves each one's PUBACK latency (ms). */
export async function pubackLatencies(brokerUrl: string, device: ProbeDevice, count: number, gapMs: number): Promise<number[]> {
  const client = await mqtt.connectAsync(brokerUrl, { clientId: device.id, username: device.username, password: device.password, protocolVersion: 4, reconnectPeriod: 0 });
  const sensor = new ClimateSensor(device.id, 1);
  const latencies: number[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const [message] = CONVENTIONS.zigbee2mqtt.encodeReading(sensor.description, { ts: Date.now(), values: sensor.sample() });
      const start = performance.now();
      await client.publishAsync(message!.topic, message!.payload, { qos: 1 });
      latencies.push(performance.now() - start);
      await sleep(gapMs);
    }
  } finally {
    await client.endAsync();
  }
  return latencies;
}

export class JournalSampler {
  private commits = 0;
  private bytes = 0;
  private lastRecords = 0;
  private lastBytes = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly path: string, everyMs = 250) {
    [this.lastRecords, this.lastBytes] = this.read();
    this.timer = setInterval(() => this.sample(), everyMs);
  }

  /** Stops sampling; commits and journal bytes since the start. */
  stop(): { commits: number; bytes: number } {
    clearInterval(this.timer);
    this.sample();
    return { commits: this.commits, bytes: this.bytes };
  }

  private sample(): void {
    const [records, bytes] = this.read();
    const emptied = bytes < this.lastBytes;
    this.commits += emptied ? records : records - this.lastRecords;
    this.bytes += emptied ? bytes : bytes - this.lastBytes;
    this.lastRecords = records;
    this.lastBytes = bytes;
  }

  /** Intact records and their bytes (a record being appended right now is left for the next sample). */
  private read(): [number, number] {
    if (!existsSync(this.path)) return [0, 0];
    const { records, intactBytes } = readRecords(readFileSync(this.path));
    return [records.length, intactBytes];
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, ms));
}
