/**
 * Stream and pagination tokens. Both are opaque to clients; both name a point *between* events of
 * the global stream: position P means "after the event with stream position P".
 *  - sync tokens `s<P>_<E>`: P the stream position, E the ephemeral (typing) serial;
 *  - pagination tokens `t<P>` (timeline `prev_batch`, `/messages` start/end).
 * `/messages` accepts either kind as `from`/`to`, as clients pass sync tokens there.
 */
import { ErrCode, MatrixError } from '../core/errors.js';

export interface SyncToken {
  position: number;
  ephemeral: number;
}

export function formatSyncToken(t: SyncToken): string {
  return `s${t.position}_${t.ephemeral}`;
}

export function parseSyncToken(raw: string): SyncToken {
  const m = /^s(\d{1,15})_(\d{1,15})$/.exec(raw);
  if (!m) throw new MatrixError(400, ErrCode.INVALID_PARAM, 'Invalid sync token');
  return { position: Number(m[1]), ephemeral: Number(m[2]) };
}

export function formatPaginationToken(position: number): string {
  return `t${position}`;
}

/** A position from either a pagination token or a sync token. */
export function parsePaginationToken(raw: string): number {
  const t = /^t(-?\d{1,15})$/.exec(raw);
  if (t) return Number(t[1]);
  return parseSyncToken(raw).position;
}
