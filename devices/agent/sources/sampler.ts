/**
 * Polls the configured sensors and hands their values to the agent as readings. Sensors that share
 * an interval are read together and published as one reading (one MQTT message in most
 * conventions), which is what a multi-sensor device does too. A poll that outlasts its interval
 * delays the next one rather than overlapping it, so a slow command never runs twice at once.
 */
import { EventEmitter } from 'node:events';
import type { SensorValues } from '../device.js';
import { BadReadError, type SensorSource } from './source.js';

export interface SampledSensor {
  key: string;
  source: SensorSource;
  intervalMs: number;
}

export interface SensorStats {
  /** Values published. */
  reads: number;
  /** Values the sensor itself flagged as wrong (CRC, reset value): skipped. */
  badReads: number;
  /** Reads that failed (I/O, command error or timeout): skipped. */
  errors: number;
}

/**
 * Events: `bad-read` (key, error) and `read-error` (key, error), for logs. Neither stops polling:
 * a flaky sensor recovers on its own more often than not.
 */
export class Sampler extends EventEmitter {
  private readonly groups = new Map<number, SampledSensor[]>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly running = new Set<Promise<void>>();
  private readonly counters = new Map<string, SensorStats>();
  private stopped = false;

  constructor(
    sensors: SampledSensor[],
    private readonly record: (values: SensorValues) => void,
  ) {
    super();
    for (const sensor of sensors) {
      const group = this.groups.get(sensor.intervalMs) ?? [];
      group.push(sensor);
      this.groups.set(sensor.intervalMs, group);
      this.counters.set(sensor.key, { reads: 0, badReads: 0, errors: 0 });
    }
  }

  get sensorCount(): number {
    return this.counters.size;
  }

  /** Polls every group now, then at its interval. */
  start(): void {
    for (const [intervalMs, group] of this.groups) this.poll(group, intervalMs);
  }

  /** Stops polling and waits for the polls under way (their values are still recorded). */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    await Promise.all(this.running);
  }

  stats(): Record<string, SensorStats> {
    return Object.fromEntries([...this.counters].map(([key, stats]) => [key, { ...stats }]));
  }

  /** Reads one group once and records what succeeded. */
  async pollOnce(group: SampledSensor[]): Promise<void> {
    const results = await Promise.allSettled(group.map((sensor) => sensor.source.read()));
    const values: SensorValues = {};
    results.forEach((result, i) => {
      const key = group[i]!.key;
      const stats = this.counters.get(key)!;
      if (result.status === 'fulfilled') {
        values[key] = result.value;
        stats.reads++;
      } else if (result.reason instanceof BadReadError) {
        stats.badReads++;
        this.emit('bad-read', key, result.reason);
      } else {
        stats.errors++;
        this.emit('read-error', key, result.reason);
      }
    });
    if (Object.keys(values).length > 0) this.record(values);
  }

  private poll(group: SampledSensor[], intervalMs: number): void {
    if (this.stopped) return;
    const started = Date.now();
    const run = this.pollOnce(group).finally(() => {
      this.running.delete(run);
      if (this.stopped) return;
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        this.poll(group, intervalMs);
      }, Math.max(0, intervalMs - (Date.now() - started)));
      this.timers.add(timer);
    });
    this.running.add(run);
  }
}
