/**
 * Keys of the telemetry key spaces, built with the one key codec (src/storage/codec.ts):
 *   telemetry_raw     u32 stream ‖ u64 ms           -> cbor chunk (ms = first reading's time)
 *                     u32 0      ‖ u64 flush ms     -> cbor journal entry (stream 0 is reserved for it)
 *   telemetry_rollup  u32 stream ‖ u8 res ‖ u64 bucket start ms -> cbor { min, max, sum, count }
 * Big-endian fixed-width integers make byte order time order, so one ranged iterator reads a range.
 */
import { readU32, readU64, u32, u64 } from '../storage/codec.js';
import type { RollupResolution } from './model.js';

/** Stream short 0 holds the write-ahead journal of readings not yet folded into chunks. */
export const JOURNAL_STREAM = 0;

const RESOLUTION_CODE: Record<RollupResolution, number> = { '5m': 1, '1h': 2 };

export function rawKey(stream: number, ms: number): Buffer {
  return Buffer.concat([u32(stream), u64(Math.max(0, ms))]);
}

export function readRawKey(key: Uint8Array): { stream: number; ms: number } {
  return { stream: readU32(key, 0), ms: readU64(key, 4) };
}

export function rollupKey(stream: number, res: RollupResolution, startMs: number): Buffer {
  return Buffer.concat([u32(stream), Buffer.from([RESOLUTION_CODE[res]]), u64(Math.max(0, startMs))]);
}

export function readRollupKey(key: Uint8Array): { stream: number; startMs: number } {
  return { stream: readU32(key, 0), startMs: readU64(key, 5) };
}
