/**
 * Compact CBOR (RFC 8949) encodings of readings. What makes them small:
 * - times as delta-of-delta from the key's time: a sensor reporting every second with a few ms of
 *   jitter costs one byte per timestamp;
 * - numeric chunks as integers at one decimal scale, delta-encoded: 21.3, 21.4, 21.4 at scale 1 are
 *   213, +1, 0 - mostly one byte each;
 * - other numbers as decimal fractions (RFC 8949 section 3.4.4, tag 4) when exact, so 21.3 costs
 *   5 bytes instead of a 9-byte float64.
 *
 * Chunk:   [scale, dod times, integer value deltas]   when every value is numeric at scale 0..6
 *          [null,  dod times, values]                 otherwise
 * Journal: [streams, time offsets from the key, values]
 */
import { Decoder, Encoder, Tag } from 'cbor-x';
import type { TelemetryValue } from './model.js';

const encoder = new Encoder({ useRecords: false, variableMapSize: true, tagUint8Array: false });
const decoder = new Decoder({ useRecords: false, mapsAsObjects: true });

const MAX_SCALE = 6;

export interface Series {
  ts: number[];
  values: TelemetryValue[];
}

export function encodeChunk(baseMs: number, s: Series): Buffer {
  const times = deltaOfDelta(baseMs, s.ts);
  const scale = commonScale(s.values);
  if (scale === undefined) return encoder.encode([null, times, s.values.map(compactValue)]);
  const factor = 10 ** scale;
  let prev = 0;
  const deltas = (s.values as number[]).map((v) => {
    const n = Math.round(v * factor);
    const d = n - prev;
    prev = n;
    return d;
  });
  return encoder.encode([scale, times, deltas]);
}

export function decodeChunk(baseMs: number, buf: Uint8Array): Series {
  const [scale, times, values] = decoder.decode(buf) as [number | null, number[], TelemetryValue[]];
  const ts = undoDeltaOfDelta(baseMs, times);
  if (scale === null) return { ts, values };
  const factor = 10 ** scale;
  let acc = 0;
  return { ts, values: (values as number[]).map((d) => (acc += d) / factor) };
}

export function encodeJournal(baseMs: number, streams: number[], ts: number[], values: TelemetryValue[]): Buffer {
  return encoder.encode([streams, ts.map((t) => t - baseMs), values.map(compactValue)]);
}

export function decodeJournal(baseMs: number, buf: Uint8Array): { streams: number[]; ts: number[]; values: TelemetryValue[] } {
  const [streams, offsets, values] = decoder.decode(buf) as [number[], number[], TelemetryValue[]];
  return { streams, ts: offsets.map((o) => o + baseMs), values };
}

function deltaOfDelta(baseMs: number, ts: number[]): number[] {
  let prevTs = baseMs;
  let prevDelta = 0;
  return ts.map((t) => {
    const delta = t - prevTs;
    const dod = delta - prevDelta;
    prevTs = t;
    prevDelta = delta;
    return dod;
  });
}

function undoDeltaOfDelta(baseMs: number, dods: number[]): number[] {
  let prevTs = baseMs;
  let prevDelta = 0;
  return dods.map((dod) => {
    prevDelta += dod;
    prevTs += prevDelta;
    return prevTs;
  });
}

/** The smallest decimal scale at which every value is an exact integer, if all values are numbers. */
function commonScale(values: TelemetryValue[]): number | undefined {
  let scale = 0;
  for (const v of values) {
    if (typeof v !== 'number') return undefined;
    while (scale <= MAX_SCALE && !exactAt(v, scale)) scale++;
    if (scale > MAX_SCALE) return undefined;
  }
  return scale;
}

function exactAt(v: number, scale: number): boolean {
  const n = Math.round(v * 10 ** scale);
  return Number.isSafeInteger(n) && n / 10 ** scale === v;
}

/** A non-integer number as a decimal fraction [exponent, mantissa] when that is exact. */
function compactValue(v: TelemetryValue): unknown {
  if (typeof v !== 'number' || Number.isInteger(v)) return v;
  for (let scale = 1; scale <= MAX_SCALE; scale++) {
    if (exactAt(v, scale)) return new Tag([-scale, Math.round(v * 10 ** scale)], 4);
  }
  return v;
}
