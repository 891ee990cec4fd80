/**
 * The Server-Server API routes for rooms (server-server "Transactions", "Retrieving events",
 * "Joining Rooms", "Knocking upon a room", "Inviting to a room", "Leaving Rooms"). Every route
 * first authenticates the requesting server (X-Matrix); handlers get its name as `origin`.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ErrCode, MatrixError } from '../../core/errors.js';
import { isJsonObject } from '../../core/json-object.js';
import type { JsonObject } from '../../core/types.js';
import type { ResidentMembership } from '../membership/resident.js';
import type { TransactionReceiver } from '../receive/transactions.js';
import type { RoomReads } from '../serve/room-reads.js';
import { federationHierarchy } from '../serve/hierarchy.js';
import type { RoomEngine } from '../../rooms/engine.js';

export interface RoomRouteDeps {
  engine: RoomEngine;
  /** The public room list for other servers (rooms that federate only). */
  publicRooms: (query: { limit: number; since?: string; term?: string }) => Promise<JsonObject>;
  /** The authenticated origin of a request (throws 401 M_UNAUTHORIZED otherwise). */
  originOf: (request: FastifyRequest) => Promise<string>;
  transactions: TransactionReceiver;
  reads: RoomReads;
  resident: ResidentMembership;
}

type Params = Record<string, string>;
type Query = Record<string, string | string[] | undefined>;

function list(value: string | string[] | undefined): string[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}

function required(query: Query, name: string): string {
  const value = query[name];
  const first = Array.isArray(value) ? value[0] : value;
  if (!first) throw new MatrixError(400, ErrCode.MISSING_PARAM, `Missing ${name}`);
  return first;
}

export function registerRoomRoutes(app: FastifyInstance, deps: RoomRouteDeps): void {
  const { originOf, transactions, reads, resident, publicRooms } = deps;
  const F1 = '/_matrix/federation/v1';
  const F2 = '/_matrix/federation/v2';

  app.put(`${F1}/send/:txnId`, async (req) => {
    const origin = await originOf(req);
    const body = req.body as JsonObject;
    if (isJsonObject(body) && typeof body.origin === 'string' && body.origin !== origin) {
      throw new MatrixError(400, ErrCode.BAD_JSON, 'The transaction origin differs from the request origin');
    }
    return transactions.receive(origin, (req.params as Params).txnId!, body);
  });

  app.get(`${F1}/event/:eventId`, async (req) => reads.event(await originOf(req), (req.params as Params).eventId!));
  app.get(`${F1}/state/:roomId`, async (req) => reads.state(await originOf(req), (req.params as Params).roomId!, required(req.query as Query, 'event_id')));
  app.get(`${F1}/state_ids/:roomId`, async (req) => reads.stateIds(await originOf(req), (req.params as Params).roomId!, required(req.query as Query, 'event_id')));
  app.get(`${F1}/event_auth/:roomId/:eventId`, async (req) => {
    const p = req.params as Params;
    return reads.eventAuth(await originOf(req), p.roomId!, p.eventId!);
  });
  app.get(`${F1}/backfill/:roomId`, async (req) => {
    const q = req.query as Query;
    const limit = Number(required(q, 'limit'));
    return reads.backfill(await originOf(req), (req.params as Params).roomId!, list(q.v), limit);
  });
  app.post(`${F1}/get_missing_events/:roomId`, async (req) => reads.missingEvents(await originOf(req), (req.params as Params).roomId!, req.body));

  for (const membership of ['join', 'leave', 'knock'] as const) {
    app.get(`${F1}/make_${membership}/:roomId/:userId`, async (req) => {
      const p = req.params as Params;
      const ver = membership === 'leave' ? undefined : list((req.query as Query).ver);
      return resident.make(await originOf(req), membership, p.roomId!, p.userId!, ver);
    });
  }
  // v2 answers the object itself; v1 (deprecated, still used by old servers) wraps it as [200, object].
  for (const membership of ['join', 'leave'] as const) {
    app.put(`${F2}/send_${membership}/:roomId/:eventId`, async (req) => {
      const p = req.params as Params;
      return resident.send(await originOf(req), membership, p.roomId!, p.eventId!, req.body);
    });
    app.put(`${F1}/send_${membership}/:roomId/:eventId`, async (req) => {
      const p = req.params as Params;
      return [200, await resident.send(await originOf(req), membership, p.roomId!, p.eventId!, req.body)];
    });
  }
  app.put(`${F1}/send_knock/:roomId/:eventId`, async (req) => {
    const p = req.params as Params;
    return resident.send(await originOf(req), 'knock', p.roomId!, p.eventId!, req.body);
  });
  // server-server "Spaces".
  app.get(`${F1}/hierarchy/:roomId`, async (req) => {
    const origin = await originOf(req);
    const suggested = (req.query as Query).suggested_only;
    return federationHierarchy(deps.engine, origin, (req.params as Params).roomId!, suggested === 'true');
  });
  // server-server "Public Room Directory".
  app.get(`${F1}/publicRooms`, async (req) => {
    await originOf(req);
    const q = req.query as Query;
    const limit = Math.min(Math.max(Number(q.limit ?? 100) || 100, 1), 500);
    const since = typeof q.since === 'string' ? q.since : undefined;
    return publicRooms({ limit, ...(since ? { since } : {}) });
  });
  app.post(`${F1}/publicRooms`, async (req) => {
    await originOf(req);
    const body = isJsonObject(req.body) ? req.body : {};
    const limit = typeof body.limit === 'number' && body.limit > 0 ? Math.min(body.limit, 500) : 100;
    const filter = isJsonObject(body.filter) ? body.filter : {};
    return publicRooms({
      limit,
      ...(typeof body.since === 'string' ? { since: body.since } : {}),
      ...(typeof filter.generic_search_term === 'string' ? { term: filter.generic_search_term } : {}),
    });
  });
  app.put(`${F2}/invite/:roomId/:eventId`, async (req) => {
    const p = req.params as Params;
    return resident.invite(await originOf(req), p.roomId!, p.eventId!, req.body);
  });
  app.put(`${F1}/invite/:roomId/:eventId`, async (req) => {
    const p = req.params as Params;
    const answer = await resident.invite(await originOf(req), p.roomId!, p.eventId!, { event: req.body, room_version: '1' });
    return [200, answer];
  });
}
