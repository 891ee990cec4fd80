/** Sending receipts (modules/receipts.md). */
import type { FastifyInstance } from 'fastify';
import { isJsonObject } from '../../core/json-object.js';
import { RECEIPT_TYPES, type ReceiptType } from '../../accounts/receipts.js';
import { isValidEventId } from '../../core/identifiers.js';
import { forbidden, invalidParam } from '../../core/errors.js';
import { storeFullyRead, type ReadMarkerDeps } from './read-markers.js';

export type ReceiptDeps = ReadMarkerDeps;

export function registerReceiptRoutes(app: FastifyInstance, deps: ReceiptDeps): void {
  /**
   * POST /_matrix/client/v3/rooms/{roomId}/receipt/{receiptType}/{eventId}
   * `m.fully_read` is accepted here as a shortcut for the read marker and takes no thread.
   */
  app.post<{ Params: { roomId: string; receiptType: string; eventId: string }; Body: { thread_id?: string } | undefined }>(
    '/_matrix/client/v3/rooms/:roomId/receipt/:receiptType/:eventId',
    async (req) => {
      const requester = await deps.auth.requireUser(req);
      const { roomId, receiptType, eventId } = req.params;
      const body = req.body ?? {};
      if (!isJsonObject(body)) throw invalidParam('Body must be a JSON object');
      const threadId = body.thread_id;
      if (threadId !== undefined && (typeof threadId !== 'string' || (threadId !== 'main' && !isValidEventId(threadId)))) {
        throw invalidParam('thread_id must be "main" or an event id');
      }
      if (receiptType !== 'm.fully_read' && !(RECEIPT_TYPES as readonly string[]).includes(receiptType)) {
        throw invalidParam(`Unknown receipt type ${receiptType}`);
      }
      if (!(await deps.isJoined(requester.userId, roomId))) throw forbidden('You are not in this room');
      if (receiptType === 'm.fully_read') {
        if (threadId !== undefined) throw invalidParam('m.fully_read cannot be threaded');
        await storeFullyRead(deps.accountData, requester.userId, roomId, eventId);
      } else {
        await deps.receipts.setReceipt(requester.userId, roomId, receiptType as ReceiptType, eventId, threadId);
      }
      return {};
    },
  );
}
