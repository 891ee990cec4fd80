/**
 * The side stream: the change log of non-event streams whose own stores are keyed by identity rather
 * than by position (account data, receipts, profiles). Each change takes one global stream position
 * (stream/notifier.ts), so `/sync` can ask "what changed in (since, now]" with one ranged read.
 * To-device messages need no entry: their store is already ordered by position per device.
 */
import type { BatchOp, Database } from '../storage/db.js';
import { decodeJson, readU64, u64 } from '../storage/codec.js';

export type SideStreamEntry =
  /** `roomId` is '' for global account data. */
  | { kind: 'account_data'; userId: string; roomId: string; type: string }
  | { kind: 'receipt'; roomId: string; userId: string; receiptType: string; threadId: string }
  | { kind: 'profile'; userId: string };

export class SideStreamStore {
  constructor(private readonly db: Database) {}

  appendTxn(ops: BatchOp[], position: number, entry: SideStreamEntry): void {
    ops.push(this.db.putJson('sideStream', u64(position), entry));
  }

  /** Entries with `from < position <= to`, oldest first. */
  async *range(from: number, to: number): AsyncGenerator<{ position: number; entry: SideStreamEntry }> {
    if (to <= from) return;
    const iterator = this.db.space('sideStream').iterator({ gt: u64(Math.max(from, 0)), lte: u64(to) });
    for await (const [key, value] of iterator) {
      yield { position: readU64(key), entry: decodeJson<SideStreamEntry>(value) };
    }
  }
}
