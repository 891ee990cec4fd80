/**
 * The status page's live view of the devices: each sensor's latest reading, each device's last
 * message, and a change counter that the page's long-poll (`/_hearth/status/v1/devices`) waits on.
 *
 * Why its own counter rather than /sync of the device rooms: a reading takes no stream position (it
 * goes to the telemetry journal, not to a room), and the room's `org.hearth.sensor` event is
 * throttled (a change beyond the deadband, at most once per `min_interval_seconds`); following
 * /sync would also make the page join every device room and carry whole signed events (~600 bytes
 * each) and the admin's chats. The waiting itself is the gateway's notifier (src/stream/notifier.ts),
 * an instance of its own woken through its ephemeral serial, so shutdown answers parked polls the
 * way it answers /sync.
 *
 * Memory: one entry per registered device and per sensor it reported (bounded by the registry and
 * `bridge.max_sensors_per_device`); a reading updates two numbers and the counter, no allocation
 * beyond its first.
 */
import type { BridgeObserver } from '../mqtt/bridge/bridge.js';
import type { SensorValue } from '../mqtt/adapters/model.js';
import { StreamNotifier } from '../stream/notifier.js';

export interface LiveValue {
  value: SensorValue;
  /** When the reading was taken (the device's time when it sent one, else the gateway's). */
  ts: number;
}

interface LiveDevice {
  /** The change counter at this device's last change. */
  changed: number;
  /** The gateway's clock when the device last said anything (a reading, its availability, an announcement). */
  lastSeen: number;
  values: Map<string, LiveValue>;
}

/** A position in the change counter: the gateway's start time and the counter, `<epoch>_<serial>`. */
export interface LivePosition {
  epoch: number;
  serial: number;
}

export class LiveDevices implements BridgeObserver {
  private readonly devices = new Map<string, LiveDevice>();
  private readonly wake = new StreamNotifier(0);
  /** Distinguishes this run's counter from a previous one's (a page kept open across a restart). */
  readonly epoch: number;

  constructor(private readonly now: () => number = Date.now) {
    this.epoch = now();
  }

  reading(deviceKey: string, sensor: string, value: SensorValue, ts: number): void {
    const d = this.touch(deviceKey);
    const live = d.values.get(sensor);
    if (live) {
      live.value = value;
      live.ts = ts;
    } else {
      d.values.set(sensor, { value, ts });
    }
  }

  deviceChanged(deviceKey: string): void {
    this.touch(deviceKey);
  }

  /** The current position (what a page passes back as `since`). */
  get position(): LivePosition {
    return { epoch: this.epoch, serial: this.wake.ephemeral };
  }

  /** Keys of the devices changed after `serial` of this run. */
  changedSince(serial: number): string[] {
    const keys: string[] = [];
    for (const [key, d] of this.devices) if (d.changed > serial) keys.push(key);
    return keys;
  }

  latest(deviceKey: string, sensor: string): LiveValue | undefined {
    return this.devices.get(deviceKey)?.values.get(sensor);
  }

  lastSeen(deviceKey: string): number | undefined {
    return this.devices.get(deviceKey)?.lastSeen;
  }

  /**
   * Resolves at once when something changed after `serial`, else at the next change, after
   * `timeoutMs`, when `signal` aborts, or when closed.
   */
  async waitForChange(serial: number, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    if (this.wake.ephemeral > serial || timeoutMs <= 0 || signal?.aborted) return;
    await this.wake.waitForChange(timeoutMs, signal);
  }

  /** The gateway is stopping: parked polls answer now, and later ones at once. */
  close(): void {
    this.wake.close();
  }

  private touch(deviceKey: string): LiveDevice {
    this.wake.notifyEphemeral();
    const serial = this.wake.ephemeral;
    let d = this.devices.get(deviceKey);
    if (!d) this.devices.set(deviceKey, (d = { changed: serial, lastSeen: this.now(), values: new Map() }));
    d.changed = serial;
    d.lastSeen = this.now();
    return d;
  }
}
