/** Fully-read markers and the combined read-markers call (modules/read_markers.md). */
import type { FastifyInstance } from 'fastify';
import type { AccountDataService } from '../../accounts/account-data.js';
import type { ReceiptService } from '../../accounts/receipts.js';
import type { Authenticator } from '../../http/auth.js';
import { forbidden } from '../../core/errors.js';

export interface ReadMarkerDeps {
  auth: Authenticator;
  accountData: Pick<AccountDataService, 'put'>;
  receipts: Pick<ReceiptService, 'setReceipt'>;
  isJoined(userId: string, roomId: string): Promise<boolean>;
}

/** The fully-read marker is room account data `m.fully_read` ("Server behaviour"). */
export async function storeFullyRead(accountData: Pick<AccountDataService, 'put'>, userId: string, roomId: string, eventId: string): Promise<void> {
  await accountData.put(userId, roomId, 'm.fully_read', { event_id: eventId });
}

const eventIdProperty = { type: 'string', minLength: 1, maxLength: 255 } as const;

export function registerReadMarkerRoutes(app: FastifyInstance, deps: ReadMarkerDeps): void {
  /** POST /_matrix/client/v3/rooms/{roomId}/read_markers */
  app.post<{ Params: { roomId: string }; Body: { 'm.fully_read'?: string; 'm.read'?: string; 'm.read.private'?: string } }>(
    '/_matrix/client/v3/rooms/:roomId/read_markers',
    {
      schema: {
        body: {
          type: 'object',
          properties: { 'm.fully_read': eventIdProperty, 'm.read': eventIdProperty, 'm.read.private': eventIdProperty },
        },
      },
    },
    async (req) => {
      const requester = await deps.auth.requireUser(req);
      const { roomId } = req.params;
      if (!(await deps.isJoined(requester.userId, roomId))) throw forbidden('You are not in this room');
      const body = req.body;
      if (body['m.fully_read'] !== undefined) await storeFullyRead(deps.accountData, requester.userId, roomId, body['m.fully_read']);
      if (body['m.read'] !== undefined) await deps.receipts.setReceipt(requester.userId, roomId, 'm.read', body['m.read']);
      if (body['m.read.private'] !== undefined) {
        await deps.receipts.setReceipt(requester.userId, roomId, 'm.read.private', body['m.read.private']);
      }
      return {};
    },
  );
}
