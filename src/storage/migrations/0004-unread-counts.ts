/**
 * Storage version 3 -> 4: unread notification counts are kept with the events (`push_actions`,
 * `unread_counts`, src/storage/unread-counts.ts) instead of being recomputed in memory. Their
 * content is the users' push rules evaluated against each unread event, which is the push
 * module's business, not the storage layer's: this step only records that the key spaces are
 * still empty for the events already stored (`meta/unread_counts_rebuild`), and the push module
 * (push/notification-counts.ts `rebuildPending`) fills them at start, before the gateway
 * answers anyone, and deletes the mark in its last batch. A data directory created at version 4
 * never has the mark.
 */
import type { Database } from '../db.js';

export const UNREAD_COUNTS_REBUILD = 'unread_counts_rebuild';

export async function markUnreadCountsForRebuild(db: Database): Promise<void> {
  await db.write([db.putMeta(UNREAD_COUNTS_REBUILD, true)]);
}
