/**
 * Retention: which keys of one stream are past their time. Raw chunks and rollup buckets have
 * separate retention (config defaults, per-stream overrides in the stream record). A chunk is
 * dropped by its key time (its first reading), so up to one checkpoint interval of readings beyond
 * the cutoff goes with it.
 */
import type { BatchOp, Database } from '../storage/db.js';
import { rawKey, rollupKey } from './keys.js';
import type { RollupResolution } from './model.js';

const RESOLUTIONS: RollupResolution[] = ['5m', '1h'];

export async function expiredKeys(db: Database, stream: number, rawCutoffMs: number, rollupCutoffMs: number): Promise<BatchOp[]> {
  const ops: BatchOp[] = [];
  if (rawCutoffMs > 0) {
    for await (const k of db.space('telemetryRaw').keys({ gte: rawKey(stream, 0), lt: rawKey(stream, rawCutoffMs) })) {
      ops.push(db.del('telemetryRaw', Buffer.from(k)));
    }
  }
  if (rollupCutoffMs > 0) {
    for (const res of RESOLUTIONS) {
      for await (const k of db.space('telemetryRollup').keys({ gte: rollupKey(stream, res, 0), lt: rollupKey(stream, res, rollupCutoffMs) })) {
        ops.push(db.del('telemetryRollup', Buffer.from(k)));
      }
    }
  }
  return ops;
}
