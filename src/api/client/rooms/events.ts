/**
 * Single events and their context (client-server-api "Getting events for a room", "Event context"):
 * GET /rooms/{roomId}/event/{eventId}, GET /rooms/{roomId}/context/{eventId},
 * GET /v1/rooms/{roomId}/timestamp_to_event, GET /rooms/{roomId}/members, GET /rooms/{roomId}/joined_members.
 */
import type { FastifyInstance } from 'fastify';
import { splitStateKey } from '../../../core/types.js';
import { ErrCode, MatrixError, notFound } from '../../../core/errors.js';
import { formatPaginationToken, parsePaginationToken } from '../../../rooms/tokens.js';
import type { RoomApiDeps } from './deps.js';
import { intQuery, resolveEventFilter } from './params.js';
import { matchesEventFilter } from '../../../rooms/filter.js';

export function registerEventRoutes(app: FastifyInstance, deps: RoomApiDeps): void {
  /** GET /_matrix/client/v3/rooms/{roomId}/event/{eventId} */
  app.get<{ Params: { roomId: string; eventId: string } }>('/_matrix/client/v3/rooms/:roomId/event/:eventId', async (req) => {
    const user = await deps.requireUser(req);
    // Unknown, from another room, of a room unknown or closed to the user, after the user left or
    // hidden by history visibility: all look the same (no existence leak; the spec's only refusal
    // here is 404, and Synapse turns its 403 into it).
    const upTo = await deps.timeline.readableUpTo(user.userId, req.params.roomId).catch((err: unknown) => {
      throw err instanceof MatrixError && (err.errcode === ErrCode.FORBIDDEN || err.errcode === ErrCode.NOT_FOUND) ? notFound('Event not found') : err;
    });
    const event = await deps.engine.getEvent(req.params.eventId);
    const reader = await deps.timeline.readerFor(user.userId, req.params.roomId);
    if (!event || event.room_id !== req.params.roomId || event.meta.stream > upTo || !(await reader.canSee(event))) throw notFound('Event not found');
    return deps.formatter.format(event, { userId: user.userId, deviceId: user.deviceId }, { reader });
  });

  /** GET /_matrix/client/v3/rooms/{roomId}/context/{eventId} */
  app.get<{ Params: { roomId: string; eventId: string }; Querystring: { limit?: string; filter?: string } }>(
    '/_matrix/client/v3/rooms/:roomId/context/:eventId',
    async (req) => {
      const user = await deps.requireUser(req);
      const { roomId, eventId } = req.params;
      const upTo = await deps.timeline.readableUpTo(user.userId, roomId);
      const event = await deps.engine.getEvent(eventId);
      const reader = await deps.timeline.readerFor(user.userId, roomId);
      if (!event || event.room_id !== roomId || event.meta.stream > upTo || !(await reader.canSee(event))) throw notFound('Event not found');
      const limit = intQuery(req.query.limit, 'limit', 10, 100);
      const filter = await resolveEventFilter(req.query.filter, user.userId, deps.getFilter);
      const half = Math.floor(limit / 2);
      const pos = event.meta.stream;
      const before = await deps.timeline.page(roomId, { from: pos - 1, dir: 'b', limit: half, filter, reader });
      const after = await deps.timeline.page(roomId, { from: pos, dir: 'f', limit: limit - half, to: Math.min(upTo, deps.sync.currentPosition()), filter, reader });
      const viewer = { userId: user.userId, deviceId: user.deviceId };
      const lastAfter = after.events[after.events.length - 1];
      const stateAtEvent = await deps.engine.stateAt(lastAfter ?? event, 'after');
      // client-server "Lazy-loading room members": only the members of the returned events'
      // senders; like Synapse (handlers/room.py get_event_context) the filter applies to the state too.
      const senders = new Set([...before.events, event, ...after.events].map((e) => e.pdu.sender));
      const state = [...stateAtEvent.values()].filter(
        (e) =>
          (!filter.lazy_load_members || e.pdu.type !== 'm.room.member' || senders.has(e.pdu.state_key ?? '')) &&
          matchesEventFilter(filter, { type: e.pdu.type, sender: e.pdu.sender, room_id: roomId, content: e.pdu.content }),
      );
      return {
        event: await deps.formatter.format(event, viewer, { reader }),
        events_before: await deps.formatter.formatAll(before.events, viewer, { reader }),
        events_after: await deps.formatter.formatAll(after.events, viewer, { reader }),
        start: formatPaginationToken(before.next ?? (before.events[before.events.length - 1]?.meta.stream ?? pos) - 1),
        end: formatPaginationToken(lastAfter?.meta.stream ?? pos),
        state: await deps.formatter.formatAll(state, viewer),
      };
    },
  );

  /** GET /_matrix/client/v1/rooms/{roomId}/timestamp_to_event */
  app.get<{ Params: { roomId: string }; Querystring: { ts?: string; dir?: string } }>('/_matrix/client/v1/rooms/:roomId/timestamp_to_event', async (req) => {
    const user = await deps.requireUser(req);
    const { roomId } = req.params;
    const { ts: rawTs, dir } = req.query;
    if (rawTs === undefined || !/^\d{1,16}$/.test(rawTs)) throw new MatrixError(400, ErrCode.INVALID_PARAM, 'ts must be a timestamp in milliseconds');
    if (dir !== 'f' && dir !== 'b') throw new MatrixError(400, ErrCode.INVALID_PARAM, 'dir must be f or b');
    const ts = Number(rawTs);
    const upTo = Math.min(await deps.timeline.readableUpTo(user.userId, roomId), deps.sync.currentPosition());
    const reader = await deps.timeline.readerFor(user.userId, roomId);
    const event = await deps.timeline.eventNearTimestamp(roomId, ts, dir, reader, upTo);
    if (!event) throw notFound(`Unable to find event from ${ts} in ${dir === 'f' ? 'forward' : 'backward'} direction`);
    return { event_id: event.event_id, origin_server_ts: event.pdu.origin_server_ts };
  });

  /** GET /_matrix/client/v3/rooms/{roomId}/members */
  app.get<{ Params: { roomId: string }; Querystring: { at?: string; membership?: string; not_membership?: string } }>(
    '/_matrix/client/v3/rooms/:roomId/members',
    async (req) => {
      const user = await deps.requireUser(req);
      const { roomId } = req.params;
      const upTo = await deps.timeline.readableUpTo(user.userId, roomId);
      const at = req.query.at !== undefined ? Math.min(parsePaginationToken(req.query.at), upTo) : upTo;
      const state =
        at >= deps.sync.currentPosition() ? await deps.engine.currentState(roomId) : await deps.timeline.stateAtPosition(roomId, at);
      const members = [...state.entries()]
        .filter(([key]) => splitStateKey(key)[0] === 'm.room.member')
        .map(([, ev]) => ev)
        .filter((ev) => {
          const m = ev.pdu.content.membership;
          if (req.query.membership && m !== req.query.membership) return false;
          if (req.query.not_membership && m === req.query.not_membership) return false;
          return true;
        });
      return { chunk: await deps.formatter.formatAll(members as never, { userId: user.userId, deviceId: user.deviceId }) };
    },
  );

  /** GET /_matrix/client/v3/rooms/{roomId}/joined_members */
  app.get<{ Params: { roomId: string } }>('/_matrix/client/v3/rooms/:roomId/joined_members', async (req) => {
    const user = await deps.requireUser(req);
    const { roomId } = req.params;
    await deps.timeline.readableUpTo(user.userId, roomId);
    const state = await deps.engine.currentState(roomId);
    const joined: Record<string, { display_name: string | null; avatar_url: string | null }> = {};
    for (const [key, ev] of state) {
      const [type, member] = splitStateKey(key);
      if (type !== 'm.room.member' || ev.pdu.content.membership !== 'join') continue;
      const c = ev.pdu.content;
      joined[member] = {
        display_name: typeof c.displayname === 'string' ? c.displayname : null,
        avatar_url: typeof c.avatar_url === 'string' ? c.avatar_url : null,
      };
    }
    return { joined };
  });
}
