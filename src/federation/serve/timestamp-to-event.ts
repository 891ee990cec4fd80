/**
 * `GET /_matrix/federation/v1/timestamp_to_event/{roomId}?ts=&dir=` (server-server "Timestamp to
 * event"): the event of the room closest to `ts` in direction `dir`, for servers in the room. It is
 * how a server back from offline learns a room's latest event (`ts=now&dir=b`) before pulling the
 * gap. The search is the Client-Server one's (rooms/timeline.ts), over accepted events only;
 * outliers, rejected and soft-failed events have no timeline entry.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ErrCode, MatrixError, notFound } from '../../core/errors.js';
import type { RoomEngine } from '../../rooms/engine.js';
import type { TimelineReader } from '../../rooms/timeline.js';
import type { RoomReads } from './room-reads.js';

export interface TimestampRouteDeps {
  originOf: (request: FastifyRequest) => Promise<string>;
  reads: Pick<RoomReads, 'requireServerInRoom'>;
  timeline: Pick<TimelineReader, 'eventNearTimestamp'>;
  engine: Pick<RoomEngine, 'notifier'>;
}

/** A server in the room sees every accepted event (history visibility for servers is room-wide here). */
const SERVER_READER = { canSee: async () => true, lastJoin: undefined };

export function registerTimestampToEventRoute(app: FastifyInstance, deps: TimestampRouteDeps): void {
  app.get<{ Params: { roomId: string }; Querystring: { ts?: string; dir?: string } }>('/_matrix/federation/v1/timestamp_to_event/:roomId', async (req) => {
    const origin = await deps.originOf(req);
    const { roomId } = req.params;
    const { ts: rawTs, dir } = req.query;
    if (typeof rawTs !== 'string' || !/^\d{1,16}$/.test(rawTs)) throw new MatrixError(400, ErrCode.INVALID_PARAM, 'ts must be a timestamp in milliseconds');
    if (dir !== 'f' && dir !== 'b') throw new MatrixError(400, ErrCode.INVALID_PARAM, 'dir must be f or b');
    await deps.reads.requireServerInRoom(origin, roomId);
    const ts = Number(rawTs);
    const event = await deps.timeline.eventNearTimestamp(roomId, ts, dir, SERVER_READER, deps.engine.notifier.position);
    if (!event) throw notFound(`Unable to find event from ${ts} in ${dir === 'f' ? 'forward' : 'backward'} direction`);
    return { event_id: event.event_id, origin_server_ts: event.pdu.origin_server_ts };
  });
}
