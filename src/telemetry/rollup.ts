/**
 * Rollup buckets: min/max/sum/count of a stream's numeric readings per 5 minutes and per hour,
 * aligned to the epoch (so every stream's buckets line up). Booleans count as 0/1, so a switch's
 * mean is its duty cycle; strings are not rolled up.
 */
import { Decoder, Encoder } from 'cbor-x';
import { ROLLUP_SPAN_MS, type RollupPoint, type RollupResolution, type TelemetryValue } from './model.js';

export interface Bucket {
  res: RollupResolution;
  start: number;
  min: number;
  max: number;
  sum: number;
  count: number;
}

const encoder = new Encoder({ useRecords: false, variableMapSize: true, tagUint8Array: false });
const decoder = new Decoder({ useRecords: false, mapsAsObjects: true });

export function bucketStart(ts: number, res: RollupResolution): number {
  const span = ROLLUP_SPAN_MS[res];
  return Math.floor(ts / span) * span;
}

export function numericValue(v: TelemetryValue): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v === 'boolean') return v ? 1 : 0;
  return undefined;
}

export function newBucket(res: RollupResolution, ts: number, v: number): Bucket {
  return { res, start: bucketStart(ts, res), min: v, max: v, sum: v, count: 1 };
}

export function fold(b: Bucket, v: number): void {
  if (v < b.min) b.min = v;
  if (v > b.max) b.max = v;
  b.sum += v;
  b.count++;
}

export function encodeBucket(b: Bucket): Buffer {
  return encoder.encode({ min: b.min, max: b.max, sum: b.sum, count: b.count });
}

export function decodeBucket(res: RollupResolution, start: number, buf: Uint8Array): Bucket {
  const v = decoder.decode(buf) as { min: number; max: number; sum: number; count: number };
  return { res, start, min: v.min, max: v.max, sum: v.sum, count: v.count };
}

export function toPoint(b: Bucket): RollupPoint {
  return { ts: b.start, min: b.min, mean: b.sum / b.count, max: b.max, count: b.count };
}
