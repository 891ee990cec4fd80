/**
 * Saved stream cursor positions by consumer key (`stream_cursors`, docs/storage.md), for consumers
 * without a record of their own to keep one in: the federation sender's `federation:<server>` per
 * destination. (A pusher keeps its position in its own record, `pushedUpTo`.)
 */
import type { Database } from '../storage/db.js';
import { readU64, u64 } from '../storage/codec.js';
import type { CursorPosition } from './stream-cursor.js';

export class StreamCursorPositions {
  constructor(private readonly db: Database) {}

  /** The position of one consumer; one that never saved starts at `initial`. */
  position(consumer: string, initial = 0): CursorPosition {
    const key = Buffer.from(consumer, 'utf8');
    return {
      load: async () => {
        const value = await this.db.space('streamCursors').get(key);
        return value === undefined ? initial : readU64(value);
      },
      save: (position) => this.db.write([this.db.put('streamCursors', key, u64(position))]),
    };
  }

  /** Forgets a consumer (a destination no longer in any room). */
  async remove(consumer: string): Promise<void> {
    await this.db.write([this.db.del('streamCursors', Buffer.from(consumer, 'utf8'))]);
  }
}
