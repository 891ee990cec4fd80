/**
 * Where read receipts meet notification counts: a receipt resets the reader's counts in the room
 * (client-server-api modules/receipts.md; modules/push.md "Receiving notifications").
 */
import type { JsonObject } from '../core/types.js';
import { isJsonObject } from '../core/json-object.js';
import type { ReceiptService, ReceiptType } from '../accounts/receipts.js';
import type { NotificationCounts } from './notification-counts.js';

/**
 * A receipt sender that marks the room read in the counts before storing the receipt: storing it
 * wakes `/sync`, which must already see the reset counts.
 */
export function receiptsResettingCounts(
  receipts: Pick<ReceiptService, 'setReceipt'>,
  counts: Pick<NotificationCounts, 'markRead'>,
): Pick<ReceiptService, 'setReceipt'> {
  return {
    async setReceipt(userId: string, roomId: string, receiptType: ReceiptType, eventId: string, threadId?: string): Promise<void> {
      await counts.markRead(userId, roomId, eventId, threadId);
      await receipts.setReceipt(userId, roomId, receiptType, eventId, threadId);
    },
  };
}

/** A read receipt of one user: the event and its thread (`''` unthreaded, `main`, or a thread root). */
export interface ReadReceipt {
  eventId: string;
  threadId: string;
}

/**
 * The read receipts of a user, from `m.receipt` content
 * (`{ $event_id: { receipt_type: { user_id: { ts, thread_id? } } } }`).
 */
export function readReceiptsOf(receiptContent: JsonObject, userId: string): ReadReceipt[] {
  const out: ReadReceipt[] = [];
  for (const [eventId, byType] of Object.entries(receiptContent)) {
    if (!isJsonObject(byType)) continue;
    for (const type of ['m.read', 'm.read.private']) {
      const byUser = byType[type];
      const mine = isJsonObject(byUser) ? byUser[userId] : undefined;
      if (!isJsonObject(mine)) continue;
      out.push({ eventId, threadId: typeof mine.thread_id === 'string' ? mine.thread_id : '' });
    }
  }
  return out;
}
