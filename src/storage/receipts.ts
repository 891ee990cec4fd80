/**
 * Read receipts (client-server-api "Receipts"): the latest receipt of each user per room, receipt
 * type and thread. `str room_id ‖ str receipt_type ‖ str user_id ‖ str thread_id` -> json
 * { eventId, ts, stream } (thread_id '' = unthreaded).
 */
import type { BatchOp, Database } from './db.js';
import { decodeJson, prefixRange, splitStrings, tuple } from './codec.js';

export interface ReceiptRecord {
  roomId: string;
  receiptType: string;
  userId: string;
  /** '' for an unthreaded receipt. */
  threadId: string;
  eventId: string;
  ts: number;
  stream: number;
}

type StoredReceipt = Pick<ReceiptRecord, 'eventId' | 'ts' | 'stream'>;

export class ReceiptStore {
  constructor(private readonly db: Database) {}

  async get(roomId: string, receiptType: string, userId: string, threadId: string): Promise<ReceiptRecord | undefined> {
    const v = await this.db.getJson<StoredReceipt>('receipts', tuple(roomId, receiptType, userId, threadId));
    return v === undefined ? undefined : { roomId, receiptType, userId, threadId, ...v };
  }

  putTxn(ops: BatchOp[], r: ReceiptRecord): void {
    const stored: StoredReceipt = { eventId: r.eventId, ts: r.ts, stream: r.stream };
    ops.push(this.db.putJson('receipts', tuple(r.roomId, r.receiptType, r.userId, r.threadId), stored));
  }

  /** Every current receipt in a room. */
  async listRoom(roomId: string): Promise<ReceiptRecord[]> {
    const out: ReceiptRecord[] = [];
    for await (const [key, value] of this.db.space('receipts').iterator(prefixRange(tuple(roomId)))) {
      const [, receiptType, userId, threadId] = splitStrings(key, 4).strings as [string, string, string, string];
      out.push({ roomId, receiptType, userId, threadId, ...decodeJson<StoredReceipt>(value) });
    }
    return out;
  }
}
