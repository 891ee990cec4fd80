/**
 * The evidence `clock-sanity.ts` step 2 reads at start: the newest `origin_server_ts` among this
 * server's own events at the end of the stream (ours only: another server's timestamp is its own
 * clock, or a lie). A bounded read of the stream's tail, so a start costs a few reads whatever the
 * history; an event of ours deeper than that only weakens the evidence, the floor still holds.
 * A timestamp a right clock could not have given (before the floor, far in the future: signed while
 * the clock was wrong) is no evidence, or one garbage reading would pause federation for years.
 */
import { serverNameOf } from '../../core/identifiers.js';
import type { StreamEntry } from '../../rooms/engine.js';
import { judgeClock } from './clock-sanity.js';

/** Stream entries looked at, newest first. */
export const RECORDED_TIME_SCAN = 200;

export interface RecordedTimeReads {
  streamBefore(before: number, limit: number): Promise<StreamEntry[]>;
  eventByShort(short: number): Promise<{ pdu: { sender: string; origin_server_ts: number } } | undefined>;
}

export async function newestOwnEventTs(reads: RecordedTimeReads, serverName: string, position: number, floorMs: number): Promise<number | undefined> {
  let newest: number | undefined;
  for (const entry of await reads.streamBefore(position + 1, RECORDED_TIME_SCAN)) {
    const event = await reads.eventByShort(entry.eventShort);
    if (!event || serverNameOf(event.pdu.sender) !== serverName) continue;
    const ts = event.pdu.origin_server_ts;
    if (typeof ts !== 'number' || !judgeClock(ts, { floorMs }).sane) continue;
    if (newest === undefined || ts > newest) newest = ts;
  }
  return newest;
}
