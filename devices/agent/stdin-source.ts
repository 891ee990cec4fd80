/**
 * Readings from text lines (stdin of the agent), for devices whose sensors are read by a script:
 * - `key=value key=value` (numbers are parsed, other values kept as strings), or
 * - a JSON object `{"temperature": 21.5}`; an optional `ts` field (ms since the epoch or ISO 8601)
 *   gives the time the reading was taken.
 */
import type { Reading, SensorValue, SensorValues } from './device.js';

export type ParsedLine = { values: SensorValues; ts?: number } | undefined;

export function parseReadingLine(line: string): ParsedLine {
  const text = line.trim();
  if (text === '' || text.startsWith('#')) return undefined;
  if (text.startsWith('{')) return parseJsonLine(text);
  const values: SensorValues = {};
  for (const pair of text.split(/\s+/)) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new Error(`expected key=value, got "${pair}"`);
    values[pair.slice(0, eq)] = scalar(pair.slice(eq + 1));
  }
  return { values };
}

function parseJsonLine(text: string): ParsedLine {
  const body = JSON.parse(text) as Record<string, unknown>;
  const values: SensorValues = {};
  let ts: Reading['ts'] | undefined;
  for (const [key, raw] of Object.entries(body)) {
    if (key === 'ts') {
      ts = typeof raw === 'number' ? raw : Date.parse(String(raw));
      if (!Number.isFinite(ts)) throw new Error(`bad ts "${String(raw)}"`);
    } else if (typeof raw === 'number' || typeof raw === 'string' || typeof raw === 'boolean') {
      values[key] = raw;
    } else {
      throw new Error(`value of "${key}" must be a number, string or boolean`);
    }
  }
  return { values, ts };
}

function scalar(raw: string): SensorValue {
  const n = Number(raw);
  return raw !== '' && Number.isFinite(n) ? n : raw;
}
