/**
 * Child events and threads (client-server "Relationships API", "Querying threads in a room"):
 * GET /v1/rooms/{roomId}/relations/{eventId}[/{relType}[/{eventType}]], GET /v1/rooms/{roomId}/threads.
 */
import type { FastifyInstance } from 'fastify';
import { ErrCode, MatrixError, notFound } from '../../../core/errors.js';
import { formatPaginationToken, parsePaginationToken } from '../../../rooms/tokens.js';
import { RECURSION_DEPTH, formatThreadToken, parseThreadToken, type ThreadEntry } from '../../../rooms/relations.js';
import type { StoredEvent } from '../../../rooms/engine.js';
import type { RoomApiDeps } from './deps.js';
import { intQuery } from './params.js';

/** Synapse's defaults: a client that asks for nothing gets a short page. */
const DEFAULT_LIMIT = 5;
const MAX_RELATIONS_LIMIT = 1000;
const MAX_THREADS_LIMIT = 100;

interface RelationsParams {
  roomId: string;
  eventId: string;
  relType?: string;
  eventType?: string;
}

type Query = Record<string, string | undefined>;

export function registerRelationRoutes(app: FastifyInstance, deps: RoomApiDeps): void {
  const relations = async (params: RelationsParams, query: Query, auth: Parameters<RoomApiDeps['requireUser']>[0]) => {
    const user = await deps.requireUser(auth);
    const { roomId, eventId } = params;
    const dir = query.dir ?? 'b';
    if (dir !== 'b' && dir !== 'f') throw new MatrixError(400, ErrCode.INVALID_PARAM, 'dir must be b or f');
    const limit = intQuery(query.limit, 'limit', DEFAULT_LIMIT, MAX_RELATIONS_LIMIT) || DEFAULT_LIMIT;
    const recurseRaw = query.recurse ?? query['org.matrix.msc3981.recurse'];
    if (recurseRaw !== undefined && recurseRaw !== 'true' && recurseRaw !== 'false') {
      throw new MatrixError(400, ErrCode.INVALID_PARAM, 'recurse must be true or false');
    }
    const from = query.from !== undefined ? parsePaginationToken(query.from) : undefined;
    const to = query.to !== undefined ? parsePaginationToken(query.to) : undefined;

    const upTo = await deps.timeline.readableUpTo(user.userId, roomId);
    const reader = await deps.timeline.readerFor(user.userId, roomId);
    const parent = await deps.engine.getEvent(eventId);
    // Unknown, elsewhere or invisible parents look alike (client-server: 404 for all of them).
    if (!parent || parent.room_id !== roomId || parent.meta.stream > upTo || !(await reader.canSee(parent))) throw notFound('Event not found');

    const recurse = recurseRaw === 'true';
    const candidates = await deps.formatter.relations.matchingDescendants(parent, { relType: params.relType, eventType: params.eventType, recurse });
    // Positions name the point after an event: backwards from P covers (to, P], forwards (P, to].
    const inWindow = candidates.filter((c) => {
      if (c.stream > upTo) return false;
      if (dir === 'b') return (from === undefined || c.stream <= from) && (to === undefined || c.stream > to);
      return (from === undefined || c.stream > from) && (to === undefined || c.stream <= to);
    });
    if (dir === 'b') inWindow.reverse();

    const chunk: StoredEvent[] = [];
    let next: string | undefined;
    for (let i = 0; i < inWindow.length; i++) {
      const entry = inWindow[i]!;
      const child = await deps.formatter.relations.visibleChild(entry, reader);
      if (!child) continue;
      chunk.push(child);
      if (chunk.length >= limit) {
        if (i < inWindow.length - 1) next = formatPaginationToken(dir === 'b' ? entry.stream - 1 : entry.stream);
        break;
      }
    }
    const body: Record<string, unknown> = {
      chunk: await deps.formatter.formatAll(chunk, { userId: user.userId, deviceId: user.deviceId }, { reader }),
    };
    if (next !== undefined) body.next_batch = next;
    if (query.from !== undefined) body.prev_batch = query.from;
    if (recurseRaw !== undefined) body.recursion_depth = recurse ? RECURSION_DEPTH : 1;
    return body;
  };

  const base = '/_matrix/client/v1/rooms/:roomId/relations/:eventId';
  app.get<{ Params: RelationsParams; Querystring: Query }>(base, (req) => relations(req.params, req.query, req));
  app.get<{ Params: RelationsParams; Querystring: Query }>(`${base}/:relType`, (req) => relations(req.params, req.query, req));
  app.get<{ Params: RelationsParams; Querystring: Query }>(`${base}/:relType/:eventType`, (req) => relations(req.params, req.query, req));

  /** GET /_matrix/client/v1/rooms/{roomId}/threads */
  app.get<{ Params: { roomId: string }; Querystring: Query }>('/_matrix/client/v1/rooms/:roomId/threads', async (req) => {
    const user = await deps.requireUser(req);
    const { roomId } = req.params;
    const include = req.query.include ?? 'all';
    if (include !== 'all' && include !== 'participated') throw new MatrixError(400, ErrCode.INVALID_PARAM, 'include must be all or participated');
    const limit = intQuery(req.query.limit, 'limit', DEFAULT_LIMIT, MAX_THREADS_LIMIT) || DEFAULT_LIMIT;
    let before: ThreadEntry | undefined;
    if (req.query.from !== undefined) {
      before = parseThreadToken(req.query.from);
      if (!before) throw new MatrixError(400, ErrCode.INVALID_PARAM, 'Unknown pagination token');
    }
    const upTo = await deps.timeline.readableUpTo(user.userId, roomId);
    const reader = await deps.timeline.readerFor(user.userId, roomId);
    const room = deps.engine.requireRoom(roomId);

    const roots: StoredEvent[] = [];
    let next: string | undefined;
    scan: for (;;) {
      const batch = await deps.formatter.relations.threads(room.short, { before, limit });
      for (const entry of batch) {
        before = entry;
        const root = await deps.engine.eventByShort(entry.rootShort);
        if (!root || root.meta.stream > upTo || !(await reader.canSee(root))) continue;
        if (include === 'participated' && !(await deps.formatter.relations.participated(root, user.userId))) continue;
        roots.push(root);
        if (roots.length >= limit) {
          next = formatThreadToken(entry);
          break scan;
        }
      }
      if (batch.length < limit) break;
    }
    const body: Record<string, unknown> = {
      chunk: await deps.formatter.formatAll(roots, { userId: user.userId, deviceId: user.deviceId }, { reader }),
    };
    if (next !== undefined) body.next_batch = next;
    return body;
  });
}
