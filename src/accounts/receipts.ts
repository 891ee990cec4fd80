/**
 * Read receipts (modules/receipts.md): the latest receipt per user, room, type and thread, sent to
 * clients in the `m.receipt` EDU shape. Private receipts (`m.read.private`) reach only their owner.
 */
import { compositeKey, type JsonObject } from '../core/types.js';
import type { StreamNotifier } from '../stream/notifier.js';
import type { BatchOp, Database } from '../storage/db.js';
import { ReceiptStore, type ReceiptRecord } from '../storage/receipts.js';
import { SideStreamStore } from '../stream/side-stream.js';

export type ReceiptType = 'm.read' | 'm.read.private';
export const RECEIPT_TYPES: readonly ReceiptType[] = ['m.read', 'm.read.private'];

/** A receipt as written, for listeners (federation sends local users' public ones on). */
export interface ReceiptWritten {
  userId: string;
  roomId: string;
  receiptType: ReceiptType;
  eventId: string;
  threadId?: string;
  ts: number;
}

export class ReceiptService {
  private readonly store: ReceiptStore;
  private readonly sideStream: SideStreamStore;
  private readonly listeners = new Set<(receipt: ReceiptWritten) => void>();

  constructor(
    private readonly db: Database,
    private readonly notifier: StreamNotifier,
  ) {
    this.store = new ReceiptStore(db);
    this.sideStream = new SideStreamStore(db);
  }

  /**
   * Records a receipt; `threadId` is omitted for an unthreaded receipt ("Threaded read receipts").
   * `ts` is now, or for a receipt another server sent, the time it gives.
   */
  async setReceipt(userId: string, roomId: string, receiptType: ReceiptType, eventId: string, threadId?: string, ts = Date.now()): Promise<void> {
    const position = this.notifier.reserve();
    try {
      const record: ReceiptRecord = { roomId, receiptType, userId, threadId: threadId ?? '', eventId, ts, stream: position };
      const ops: BatchOp[] = [];
      this.store.putTxn(ops, record);
      this.sideStream.appendTxn(ops, position, { kind: 'receipt', roomId, userId, receiptType, threadId: record.threadId });
      await this.db.write(ops);
    } finally {
      this.notifier.settle(position);
    }
    for (const listener of this.listeners) {
      try {
        listener({ userId, roomId, receiptType, eventId, ...(threadId === undefined ? {} : { threadId }), ts });
      } catch {
        // The receipt is written; a failing listener cannot undo it.
      }
    }
  }

  /** Calls `listener` after every receipt written. */
  onReceipt(listener: (receipt: ReceiptWritten) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * `m.receipt` contents per room for the receipts that changed in `(from, to]`, or all current
   * ones when `from <= 0`. `viewerId` is the syncing user: only their own private receipts are
   * included, and none without a viewer.
   */
  async receiptsSince(roomIds: string[], from: number, to: number, viewerId?: string): Promise<Map<string, JsonObject>> {
    const visible = (r: ReceiptRecord) => r.receiptType !== 'm.read.private' || r.userId === viewerId;
    const byRoom = new Map<string, ReceiptRecord[]>();
    const push = (r: ReceiptRecord) => {
      if (!visible(r)) return;
      const list = byRoom.get(r.roomId);
      if (list) list.push(r);
      else byRoom.set(r.roomId, [r]);
    };
    if (from <= 0) {
      for (const roomId of roomIds) for (const r of await this.store.listRoom(roomId)) push(r);
    } else {
      const wanted = new Set(roomIds);
      const seen = new Set<string>();
      for await (const { entry } of this.sideStream.range(from, to)) {
        if (entry.kind !== 'receipt' || !wanted.has(entry.roomId)) continue;
        const id = compositeKey(entry.roomId, entry.receiptType, entry.userId, entry.threadId);
        if (seen.has(id)) continue;
        seen.add(id);
        const r = await this.store.get(entry.roomId, entry.receiptType, entry.userId, entry.threadId);
        if (r) push(r);
      }
    }
    const out = new Map<string, JsonObject>();
    for (const [roomId, records] of byRoom) out.set(roomId, receiptContent(records));
    return out;
  }
}

/** `{ $event_id: { receipt_type: { user_id: { ts, thread_id? } } } }` (the `m.receipt` event). */
function receiptContent(records: ReceiptRecord[]): JsonObject {
  const content: Record<string, Record<string, Record<string, JsonObject>>> = {};
  for (const r of records) {
    const byType = (content[r.eventId] ??= {});
    const byUser = (byType[r.receiptType] ??= {});
    byUser[r.userId] = r.threadId === '' ? { ts: r.ts } : { ts: r.ts, thread_id: r.threadId };
  }
  return content as JsonObject;
}
