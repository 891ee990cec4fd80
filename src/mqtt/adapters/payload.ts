/**
 * Payload decoding shared by every adapter. MQTT payloads are bytes [MQTT-3.3.3]; devices send JSON,
 * plain text (`21.5`, `ON`), or CBOR (RFC 8949). The format is decided by content unless a raw rule
 * names it:
 *   1. an empty payload is `undefined` (Home Assistant: "delete"; Tasmota: "query");
 *   2. valid UTF-8 without control characters is text: JSON when it parses as JSON, otherwise a plain
 *      number or string;
 *   3. anything else must be one complete CBOR data item, decoded as plain RFC 8949 (no cbor-x
 *      record extensions), else the payload is malformed.
 * A CBOR item that happens to be printable UTF-8 (e.g. a short text string) reads as text; a raw rule
 * with `format: cbor` settles that case.
 */
import { Decoder } from 'cbor-x';
import { MalformedPayload, type SensorValue } from './model.js';
import { isWellFormedText } from '../../core/identifiers.js';

export type PayloadFormat = 'auto' | 'json' | 'cbor' | 'text';

const cbor = new Decoder({ useRecords: false, mapsAsObjects: true });
const utf8 = new TextDecoder('utf-8', { fatal: true });
// C0 controls other than tab, LF, CR, and DEL: never in text a device means as text.
const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;
const PLAIN_NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

export function decodePayload(payload: Buffer, format: PayloadFormat = 'auto'): unknown {
  if (payload.length === 0) return undefined;
  if (format === 'cbor') return decodeCbor(payload);
  const text = asText(payload);
  if (format === 'json') {
    if (text === undefined) throw new MalformedPayload('payload is not UTF-8 JSON');
    return parseJson(text);
  }
  if (text === undefined) {
    if (format === 'text') throw new MalformedPayload('payload is not UTF-8 text');
    return decodeCbor(payload);
  }
  return format === 'text' ? parsePlain(text) : parseTextual(text);
}

/** Decodes a payload that must be a JSON (or CBOR) object, as Zigbee2MQTT and Tasmota send. */
export function decodeObject(payload: Buffer): Record<string, unknown> {
  const value = decodePayload(payload);
  if (!isObject(value)) throw new MalformedPayload('payload is not an object');
  return value;
}

function asText(payload: Buffer): string | undefined {
  try {
    const text = utf8.decode(payload);
    return CONTROL.test(text) ? undefined : text;
  } catch {
    return undefined;
  }
}

function parseTextual(text: string): unknown {
  const t = text.trim();
  const first = t[0];
  if (first === '{' || first === '[' || first === '"') return parseJson(t);
  return parsePlain(t);
}

function parsePlain(text: string): SensorValue | null {
  const t = text.trim();
  if (PLAIN_NUMBER.test(t)) return Number(t);
  if (t === 'true') return true;
  if (t === 'false') return false;
  if (t === 'null') return null;
  return t;
}

function parseJson(text: string): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new MalformedPayload(`invalid JSON: ${(err as Error).message}`);
  }
  // A `\ud800` escape parses to a lone surrogate, which no Matrix event may carry (canonical JSON
  // cannot encode it): refused here rather than acknowledged and then failing in the device's room.
  if (SURROGATE_ESCAPE.test(text) && hasLoneSurrogate(value, 0)) throw new MalformedPayload('a string with a lone surrogate');
  return value;
}

const SURROGATE_ESCAPE = /\\u[dD][89a-fA-F]/;

function hasLoneSurrogate(value: unknown, depth: number): boolean {
  if (typeof value === 'string') return !isWellFormedText(value);
  if (value === null || typeof value !== 'object' || depth > 64) return false;
  if (Array.isArray(value)) return value.some((v) => hasLoneSurrogate(v, depth + 1));
  return Object.entries(value).some(([k, v]) => !isWellFormedText(k) || hasLoneSurrogate(v, depth + 1));
}

function decodeCbor(payload: Buffer): unknown {
  try {
    return cbor.decode(payload);
  } catch (err) {
    throw new MalformedPayload(`invalid CBOR: ${(err as Error).message}`);
  }
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Uint8Array);
}

/** A decoded value as a sensor value, when it is a scalar (finite number, string or boolean). */
export function toSensorValue(v: unknown): SensorValue | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? v : undefined;
  if (typeof v === 'string' || typeof v === 'boolean') return v;
  if (typeof v === 'bigint') return Number(v);
  return undefined;
}

/** Follows a dotted path (`a.b.0`) into decoded JSON/CBOR; an empty path is the value itself. */
export function getPath(value: unknown, path: string | undefined): unknown {
  if (!path) return value;
  let cur = value;
  for (const part of path.split('.')) {
    if (Array.isArray(cur)) cur = cur[Number(part)];
    else if (isObject(cur)) cur = cur[part];
    else return undefined;
  }
  return cur;
}
