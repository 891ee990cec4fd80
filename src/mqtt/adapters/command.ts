/**
 * Commands in the device's own convention: a normalised value becomes the payload of the sensor's
 * `CommandSpec`, and a human's `!set` text becomes a normalised value.
 */
import type { CommandSpec, SensorInfo, SensorValue } from './model.js';

const TRUE_WORDS = new Set(['on', 'true', '1', 'yes']);
const FALSE_WORDS = new Set(['off', 'false', '0', 'no']);

/** The MQTT payload for `value` (booleans use the spec's on/off payloads when it has them). */
export function encodeCommand(spec: CommandSpec, value: SensorValue): string {
  const wire: SensorValue = typeof value === 'boolean' && spec.on !== undefined && spec.off !== undefined ? (value ? spec.on : spec.off) : value;
  if (spec.encoding === 'json-property') return JSON.stringify({ [spec.property ?? 'state']: wire });
  return String(wire);
}

/**
 * Interprets a requested value for a sensor: booleans accept on/off/true/false/1/0/yes/no and the
 * sensor's own on/off payloads; numbers must parse; strings pass through. `undefined` when invalid.
 */
export function commandValue(sensor: SensorInfo, requested: unknown): SensorValue | undefined {
  if (sensor.kind === 'boolean') {
    if (typeof requested === 'boolean') return requested;
    const s = String(requested);
    if (s === sensor.on) return true;
    if (s === sensor.off) return false;
    const lower = s.toLowerCase();
    if (TRUE_WORDS.has(lower)) return true;
    if (FALSE_WORDS.has(lower)) return false;
    return undefined;
  }
  if (sensor.kind === 'number') {
    const n = typeof requested === 'number' ? requested : typeof requested === 'string' && requested.trim() !== '' ? Number(requested) : NaN;
    return Number.isFinite(n) ? n : undefined;
  }
  if (typeof requested === 'string' || typeof requested === 'number' || typeof requested === 'boolean') return String(requested);
  return undefined;
}

/**
 * A reported value in the sensor's normalised form: boolean sensors map their on/off payloads,
 * string sensors keep text even when it looks like a number (Homie `string` "123").
 */
export function normaliseValue(sensor: SensorInfo | undefined, value: SensorValue): SensorValue {
  if (!sensor) return value;
  if (sensor.kind === 'boolean' && typeof value !== 'boolean') {
    const s = String(value);
    if (s === sensor.on) return true;
    if (s === sensor.off) return false;
    return value;
  }
  if (sensor.kind === 'string' && typeof value !== 'string') return String(value);
  return value;
}
