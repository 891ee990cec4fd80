/**
 * Sending and reading messages (client-server-api "Room events"):
 * PUT /rooms/{roomId}/send/{eventType}/{txnId}, PUT /rooms/{roomId}/redact/{eventId}/{txnId},
 * GET /rooms/{roomId}/messages.
 */
import type { FastifyInstance } from 'fastify';
import { ErrCode, MatrixError, forbidden } from '../../../core/errors.js';
import { stateKey } from '../../../core/types.js';
import { formatPaginationToken, parsePaginationToken } from '../../../rooms/tokens.js';
import type { RoomApiDeps } from './deps.js';
import { intQuery, optionalString, requireEventContentBody, requireObjectBody, resolveEventFilter } from './params.js';

export function registerMessageRoutes(app: FastifyInstance, deps: RoomApiDeps): void {
  /** PUT /_matrix/client/v3/rooms/{roomId}/send/{eventType}/{txnId} */
  app.put<{ Params: { roomId: string; eventType: string; txnId: string } }>(
    '/_matrix/client/v3/rooms/:roomId/send/:eventType/:txnId',
    async (req) => {
      const user = await deps.requireUser(req);
      const content = requireEventContentBody(req.body);
      const { roomId, eventType, txnId } = req.params;
      deps.limitSend?.(user.userId);
      await requireJoinedToSend(deps, user.userId, roomId);
      const { eventId } = await deps.engine.sendEvent(
        roomId,
        { type: eventType, sender: user.userId, content },
        { txn: { deviceId: user.deviceId, txnId } },
      );
      return { event_id: eventId };
    },
  );

  /** PUT /_matrix/client/v3/rooms/{roomId}/redact/{eventId}/{txnId} */
  app.put<{ Params: { roomId: string; eventId: string; txnId: string } }>(
    '/_matrix/client/v3/rooms/:roomId/redact/:eventId/:txnId',
    async (req) => {
      const user = await deps.requireUser(req);
      const body = req.body === undefined ? {} : requireObjectBody(req.body);
      const reason = optionalString(body, 'reason');
      const { roomId, eventId, txnId } = req.params;
      deps.limitSend?.(user.userId);
      await requireJoinedToSend(deps, user.userId, roomId);
      const { eventId: redactionId } = await deps.engine.sendEvent(
        roomId,
        { type: 'm.room.redaction', sender: user.userId, content: reason ? { reason } : {}, redacts: eventId },
        { txn: { deviceId: user.deviceId, txnId } },
      );
      return { event_id: redactionId };
    },
  );

  /** GET /_matrix/client/v3/rooms/{roomId}/messages */
  app.get<{ Params: { roomId: string }; Querystring: Record<string, string | undefined> }>(
    '/_matrix/client/v3/rooms/:roomId/messages',
    async (req) => {
      const user = await deps.requireUser(req);
      const { roomId } = req.params;
      const q = req.query;
      const dir = q.dir ?? 'b';
      if (dir !== 'b' && dir !== 'f') throw new MatrixError(400, ErrCode.INVALID_PARAM, 'dir must be b or f');
      const limit = intQuery(q.limit, 'limit', 10, 1000) || 10;
      // A RoomEventFilter here (not a whole sync filter), inline JSON or a stored filter id.
      const filter = await resolveEventFilter(q.filter, user.userId, deps.getFilter);
      const readable = await deps.timeline.readableUpTo(user.userId, roomId);
      const head = Math.min(readable, latestPosition(deps));
      let from = q.from !== undefined ? parsePaginationToken(q.from) : dir === 'b' ? head : Number.MIN_SAFE_INTEGER + 1;
      if (dir === 'b') from = Math.min(from, head);
      const to = q.to !== undefined ? parsePaginationToken(q.to) : dir === 'f' ? head : undefined;
      const reader = await deps.timeline.readerFor(user.userId, roomId);
      const page = await deps.timeline.page(roomId, { from, dir, limit, to, filter, reader });
      const viewer = { userId: user.userId, deviceId: user.deviceId };
      const chunk = await deps.formatter.formatAll(page.events, viewer, { reader });
      const body: Record<string, unknown> = { start: q.from ?? formatPaginationToken(from), chunk };
      if (page.next !== undefined && page.events.length > 0) body.end = formatPaginationToken(page.next);
      // client-server "Lazy-loading room members": the members of the page's senders, as of its
      // first event (the state after it, as Synapse's handlers/pagination.py); no events, no state.
      const first = page.events[0];
      if (filter.lazy_load_members && first) {
        const senders = new Set(page.events.map((e) => e.pdu.sender));
        const state = await deps.engine.stateAt(first, 'after');
        const members = [...senders].map((s) => state.get(stateKey('m.room.member', s))).filter((e) => e !== undefined);
        if (members.length > 0) body.state = await deps.formatter.formatAll(members, viewer);
      }
      return body;
    },
  );
}

/** Sending needs a join; without one the auth rules would refuse anyway, with a less clear reason. */
async function requireJoinedToSend(deps: RoomApiDeps, userId: string, roomId: string): Promise<void> {
  deps.engine.requireRoom(roomId);
  if (!(await deps.engine.isJoined(userId, roomId))) throw forbidden(`User ${userId} not in room ${roomId}`);
}

function latestPosition(deps: RoomApiDeps): number {
  return deps.sync.currentPosition();
}
