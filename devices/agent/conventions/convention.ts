/**
 * A device-side MQTT convention: which topics and payloads a device uses to describe itself, report
 * readings and receive commands. One module per convention; the agent and the simulators speak any
 * of them through this interface.
 */
import type { DeviceCommand, DeviceDescription, OutboundMessage, Reading } from '../device.js';

export type ConventionName = 'homeassistant' | 'zigbee2mqtt' | 'homie' | 'tasmota';

export interface Convention {
  readonly name: ConventionName;
  /** The last will the broker publishes when the device vanishes without saying goodbye. */
  will(device: DeviceDescription): OutboundMessage;
  /** Published on every (re)connect before any reading: self-description and "online". */
  announce(device: DeviceDescription): OutboundMessage[];
  /** Published on a clean shutdown: "offline". */
  goodbye(device: DeviceDescription): OutboundMessage;
  /** The messages that carry one reading. */
  encodeReading(device: DeviceDescription, reading: Reading): OutboundMessage[];
  /** Topics the device subscribes to for commands. */
  commandTopics(device: DeviceDescription): string[];
  /** The commands in a message on a command topic; empty when it is not understood. */
  decodeCommand(device: DeviceDescription, topic: string, payload: Buffer): DeviceCommand[];
}

/** ISO 8601 in UTC with milliseconds, as Zigbee2MQTT's `last_seen` and our HA state use. */
export function isoTime(ts: number): string {
  return new Date(ts).toISOString();
}

/** Reads an ON/OFF-like command payload; TOGGLE is passed on for the actuator to resolve. */
export function parseSwitchPayload(text: string): 'ON' | 'OFF' | 'TOGGLE' | undefined {
  const upper = text.trim().toUpperCase();
  if (upper === 'ON' || upper === 'TRUE' || upper === '1') return 'ON';
  if (upper === 'OFF' || upper === 'FALSE' || upper === '0') return 'OFF';
  if (upper === 'TOGGLE') return 'TOGGLE';
  return undefined;
}
