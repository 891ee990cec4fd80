/**
 * A fleet of simulated devices, each with its own MQTT connection and device agent (as Wi-Fi
 * devices have), sampling at a fixed rate. Used by the benchmarks and for trying the gateway by hand.
 */
import { join } from 'node:path';
import { DeviceAgent, type DeviceAgentStats } from '../agent/agent.js';
import { bridgeDevicesMessage, type Convention } from '../agent/conventions/index.js';
import type { OutboundMessage } from '../agent/device.js';
import { createSimulatedDevice, type SimulatedDevice, type SimulatedKind } from './models.js';

export interface MqttCredentials {
  username: string;
  password: string;
}

export interface FleetOptions {
  brokerUrl: string;
  convention: Convention;
  /** How many devices, and which kind each one is (index -> kind). Default: every 10th a switch. */
  count: number;
  kindOf?: (index: number) => SimulatedKind;
  /** Device ids are `<prefix><index>`. */
  idPrefix?: string;
  /** Samples per second per device. */
  rateHz: number;
  /** Each device's offline queue lives in `<queueRoot>/<id>`. */
  queueRoot: string;
  /** MQTT credentials per device id (e.g. from `hearth device add NAME --json`); none: anonymous. */
  credentials?: (deviceId: string) => MqttCredentials | undefined;
  seed?: number;
}

export interface FleetStats extends Omit<DeviceAgentStats, 'connected'> {
  devices: number;
  connected: number;
}

export class Fleet {
  readonly devices: SimulatedDevice[];
  private readonly agents: DeviceAgent[] = [];
  private timers: NodeJS.Timeout[] = [];

  constructor(private readonly options: FleetOptions) {
    const kindOf = options.kindOf ?? ((i: number) => (i % 10 === 9 ? 'switch' : 'climate'));
    const prefix = options.idPrefix ?? 'sim-';
    const seed = options.seed ?? 1;
    this.devices = Array.from({ length: options.count }, (_, i) => createSimulatedDevice(kindOf(i), `${prefix}${i}`, seed + i));
  }

  /** Connects every device; resolves when all are online or `timeoutMs` passes. */
  async start(timeoutMs = 30_000): Promise<void> {
    const bridgeList: OutboundMessage[] =
      this.options.convention.name === 'zigbee2mqtt' ? [bridgeDevicesMessage(this.devices.map((d) => d.description))] : [];
    this.devices.forEach((device, i) => {
      const creds = this.options.credentials?.(device.description.id);
      const agent = new DeviceAgent({
        brokerUrl: this.options.brokerUrl,
        username: creds?.username,
        password: creds?.password,
        device: device.description,
        convention: this.options.convention,
        queueDir: join(this.options.queueRoot, device.description.id),
        // One device plays the Zigbee2MQTT bridge and publishes the device list.
        extraAnnouncements: i === 0 ? bridgeList : [],
        onCommand: (command) => device.applyCommand(command),
      });
      agent.on('warning', () => undefined); // connection errors are retried; stats() shows the state
      agent.start();
      this.agents.push(agent);
    });
    const deadline = Date.now() + timeoutMs;
    while (this.agents.some((a) => !a.stats().connected) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** Starts sampling: each device at `rateHz`, phases spread evenly so the load is smooth. */
  startSampling(): void {
    const periodMs = 1000 / this.options.rateHz;
    this.devices.forEach((device, i) => {
      const agent = this.agents[i]!;
      const phase = (periodMs * i) / this.devices.length;
      const starter = setTimeout(() => {
        agent.record(device.sample());
        this.timers.push(setInterval(() => agent.record(device.sample()), periodMs));
      }, phase);
      this.timers.push(starter);
    });
  }

  stopSampling(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers = [];
  }

  stats(): FleetStats {
    const total: FleetStats = { devices: this.agents.length, connected: 0, recorded: 0, acknowledged: 0, queued: 0, evicted: 0, commands: 0 };
    for (const agent of this.agents) {
      const s = agent.stats();
      if (s.connected) total.connected++;
      total.recorded += s.recorded;
      total.acknowledged += s.acknowledged;
      total.queued += s.queued;
      total.evicted += s.evicted;
      total.commands += s.commands;
    }
    return total;
  }

  async stop(): Promise<void> {
    this.stopSampling();
    await Promise.all(this.agents.map((a) => a.stop()));
  }
}
