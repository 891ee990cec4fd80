/**
 * Simulated devices: what they are (a description) and what they do (sample their sensors, apply a
 * command to their actuator). Values move as a bounded random walk from a seeded generator, so a run
 * with the same seed produces the same readings.
 */
import type { DeviceCommand, DeviceDescription, SensorValues } from '../agent/device.js';

export type SimulatedKind = 'climate' | 'switch';

export interface SimulatedDevice {
  readonly description: DeviceDescription;
  /** The values the device measures now. */
  sample(): SensorValues;
  /** Applies a command to the actuator; returns the new values, or undefined when it does not apply. */
  applyCommand(command: DeviceCommand): SensorValues | undefined;
}

/** mulberry32: a tiny seeded PRNG, good enough for plausible sensor noise. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let x = state;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

function walk(value: number, step: number, min: number, max: number, random: () => number): number {
  const next = value + (random() * 2 - 1) * step;
  return Math.min(max, Math.max(min, next));
}

const round1 = (x: number): number => Math.round(x * 10) / 10;

/** A temperature and humidity sensor (like an SI7021 on an ESP board or a Zigbee climate sensor). */
export class ClimateSensor implements SimulatedDevice {
  readonly description: DeviceDescription;
  private temperature: number;
  private humidity: number;
  private readonly random: () => number;

  constructor(id: string, seed: number) {
    this.random = seededRandom(seed);
    this.temperature = 18 + this.random() * 6;
    this.humidity = 35 + this.random() * 20;
    this.description = {
      id,
      name: `Climate ${id}`,
      model: 'SI7021',
      manufacturer: 'Hearth simulator',
      sensors: [
        { key: 'temperature', kind: 'sensor', unit: '°C', deviceClass: 'temperature' },
        { key: 'humidity', kind: 'sensor', unit: '%', deviceClass: 'humidity' },
      ],
    };
  }

  sample(): SensorValues {
    this.temperature = walk(this.temperature, 0.05, -10, 40, this.random);
    this.humidity = walk(this.humidity, 0.2, 5, 95, this.random);
    return { temperature: round1(this.temperature), humidity: round1(this.humidity) };
  }

  applyCommand(): SensorValues | undefined {
    return undefined;
  }
}

/** A relay/smart plug: reports its state, switches on ON / OFF / TOGGLE. */
export class SimulatedSwitch implements SimulatedDevice {
  readonly description: DeviceDescription;
  private on = false;

  constructor(id: string) {
    this.description = {
      id,
      name: `Switch ${id}`,
      model: 'SIM-PLUG',
      manufacturer: 'Hearth simulator',
      sensors: [{ key: 'state', kind: 'switch', deviceClass: 'outlet' }],
    };
  }

  sample(): SensorValues {
    return { state: this.on ? 'ON' : 'OFF' };
  }

  applyCommand(command: DeviceCommand): SensorValues | undefined {
    if (command.key !== 'state') return undefined;
    if (command.value === 'TOGGLE') this.on = !this.on;
    else if (command.value === 'ON' || command.value === 'OFF') this.on = command.value === 'ON';
    else return undefined;
    return this.sample();
  }
}

export function createSimulatedDevice(kind: SimulatedKind, id: string, seed: number): SimulatedDevice {
  return kind === 'switch' ? new SimulatedSwitch(id) : new ClimateSensor(id, seed);
}
