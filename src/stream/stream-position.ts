/**
 * The persisted global stream position: the highest position any stream-ordered key space holds.
 * Read once at start to seed the notifier, so positions keep growing across restarts.
 */
import type { Database } from '../storage/db.js';
import type { KeyspaceName } from '../storage/keyspaces.js';
import { readU64 } from '../storage/codec.js';

/** Key spaces whose keys start with a u64 global stream position. */
const STREAM_KEYED: KeyspaceName[] = ['stream', 'sideStream', 'e2eDeviceListStream'];

export async function lastStreamPosition(db: Database): Promise<number> {
  let max = 0;
  for (const name of STREAM_KEYED) {
    for await (const key of db.space(name).keys({ reverse: true, limit: 1 })) {
      max = Math.max(max, readU64(key));
    }
  }
  return max;
}
