/**
 * Unread notification counts, kept with the events (client-server "Receiving notifications"; the
 * role of Synapse's `event_push_actions` and `event_push_summary`). Two key spaces, always changed
 * in one batch, so the counters are the number of rows whatever a kill interrupts:
 *
 * - `push_actions`: `u32 room ‖ str user_id ‖ pos stream` -> `u8 flags (1 = highlight) ‖ raw thread`:
 *   one row per unread event that notified the user (thread `main` or the root's event id); the
 *   row goes when the user reads it (receipt or own event) or leaves the room;
 * - `unread_counts`: `u32 room ‖ str user_id ‖ str thread` -> `u32 notifications ‖ u32 highlights`:
 *   the rows of that user, room and thread, counted; no key when both are 0.
 */
import type { BatchOp, Database } from './db.js';
import { position, prefixRange, readPosition, readU32, splitStrings, tuple, u32 } from './codec.js';

export interface UnreadCounter {
  notifications: number;
  highlights: number;
}

/** One row of `push_actions`. */
export interface PushActionRow {
  stream: number;
  highlight: boolean;
  thread: string;
}

/** user id -> thread -> counter, for one room. */
export type RoomUnreadCounters = Map<string, Map<string, UnreadCounter>>;

const HIGHLIGHT = 1;
/** Rows read per iterator call when a receipt or a leave clears a backlog. */
const SCAN_BATCH = 1000;

export class UnreadCountStore {
  constructor(private readonly db: Database) {}

  /** Every counter of a room (one range scan: a room has a key per local member and thread with unread events). */
  async loadRoom(roomShort: number): Promise<RoomUnreadCounters> {
    const out: RoomUnreadCounters = new Map();
    const entries = await this.db.space('unreadCounts').iterator(prefixRange(u32(roomShort))).all();
    for (const [key, value] of entries) {
      const { strings } = splitStrings(key.subarray(4), 2);
      const [userId, thread] = strings as [string, string];
      let threads = out.get(userId);
      if (!threads) out.set(userId, (threads = new Map()));
      threads.set(thread, { notifications: readU32(value, 0), highlights: readU32(value, 4) });
    }
    return out;
  }

  setCounterTxn(ops: BatchOp[], roomShort: number, userId: string, thread: string, counter: UnreadCounter): void {
    const key = Buffer.concat([u32(roomShort), tuple(userId, thread)]);
    if (counter.notifications === 0 && counter.highlights === 0) {
      ops.push(this.db.del('unreadCounts', key));
      return;
    }
    const value = Buffer.allocUnsafe(8);
    value.writeUInt32BE(counter.notifications, 0);
    value.writeUInt32BE(counter.highlights, 4);
    ops.push(this.db.put('unreadCounts', key, value));
  }

  addActionTxn(ops: BatchOp[], roomShort: number, userId: string, row: PushActionRow): void {
    const value = Buffer.concat([Buffer.from([row.highlight ? HIGHLIGHT : 0]), Buffer.from(row.thread, 'utf8')]);
    ops.push(this.db.put('pushActions', actionKey(roomShort, userId, row.stream), value));
  }

  deleteActionTxn(ops: BatchOp[], roomShort: number, userId: string, stream: number): void {
    ops.push(this.db.del('pushActions', actionKey(roomShort, userId, stream)));
  }

  /** The user's rows in a room up to stream position `upTo` (inclusive), oldest first. */
  async actionsUpTo(roomShort: number, userId: string, upTo: number): Promise<PushActionRow[]> {
    const prefix = Buffer.concat([u32(roomShort), tuple(userId)]);
    const iterator = this.db.space('pushActions').iterator({ gte: prefix, lte: Buffer.concat([prefix, position(upTo)]) });
    const out: PushActionRow[] = [];
    try {
      for (;;) {
        const batch = await iterator.nextv(SCAN_BATCH);
        if (batch.length === 0) break;
        for (const [key, value] of batch) {
          out.push({ stream: readPosition(key, prefix.length), highlight: (value[0]! & HIGHLIGHT) !== 0, thread: value.subarray(1).toString('utf8') });
        }
      }
    } finally {
      await iterator.close();
    }
    return out;
  }

  /** Deletes every row and counter of a room within `ops` (a rebuild starting over). */
  async clearRoomTxn(ops: BatchOp[], roomShort: number): Promise<void> {
    for (const space of ['pushActions', 'unreadCounts'] as const) {
      for (const key of await this.db.space(space).keys(prefixRange(u32(roomShort))).all()) ops.push(this.db.del(space, key));
    }
  }

  /** Whether the event at `stream` notified the user and is unread (a point read on the calling thread). */
  hasAction(roomShort: number, userId: string, stream: number): boolean {
    return this.db.getSync('pushActions', actionKey(roomShort, userId, stream)) !== undefined;
  }
}

function actionKey(roomShort: number, userId: string, stream: number): Buffer {
  return Buffer.concat([u32(roomShort), tuple(userId), position(stream)]);
}
