/** Server-side search (client-server "Server Side Search"): POST /_matrix/client/v3/search. */
import type { FastifyInstance } from 'fastify';
import { isJsonObject } from '../../../core/json-object.js';
import { ErrCode, MatrixError, badJson } from '../../../core/errors.js';
import { validateEventFilter, type EventFilter } from '../../../rooms/filter.js';
import { InvalidSearchToken, type SearchRequest } from '../../../rooms/search.js';
import { SEARCH_KEYS, type SearchKey } from '../../../rooms/search-text.js';
import type { RoomApiDeps } from './deps.js';

/** Synapse's bound on context around each result. */
const MAX_CONTEXT = 100;

export function registerSearchRoutes(app: FastifyInstance, deps: RoomApiDeps): void {
  app.post<{ Querystring: { next_batch?: string } }>('/_matrix/client/v3/search', async (req) => {
    const user = await deps.requireUser(req);
    const body = req.body;
    if (!isJsonObject(body) || !isJsonObject(body.search_categories)) throw badJson('search_categories must be an object');
    const criteria = body.search_categories.room_events;
    // room_events is the only category; asking for none is an empty answer, not an error.
    if (criteria === undefined) return { search_categories: {} };
    if (!isJsonObject(criteria)) throw badJson('room_events must be an object');
    const request = parseCriteria(criteria);
    try {
      return await deps.search.search({ ...request, viewer: { userId: user.userId, deviceId: user.deviceId }, ...(req.query.next_batch !== undefined ? { nextBatch: req.query.next_batch } : {}) });
    } catch (err) {
      if (err instanceof InvalidSearchToken) throw new MatrixError(400, ErrCode.INVALID_PARAM, err.message);
      throw err;
    }
  });
}

/** The `room_events` criteria (search.yaml), validated. */
function parseCriteria(c: Record<string, unknown>): Omit<SearchRequest, 'viewer' | 'nextBatch'> {
  if (typeof c.search_term !== 'string') throw new MatrixError(400, ErrCode.MISSING_PARAM, 'search_term must be a string');
  let keys: Set<SearchKey> = new Set(SEARCH_KEYS);
  if (c.keys !== undefined) {
    if (!Array.isArray(c.keys) || !c.keys.every((k) => (SEARCH_KEYS as readonly unknown[]).includes(k))) {
      throw new MatrixError(400, ErrCode.INVALID_PARAM, `keys must be a list of ${SEARCH_KEYS.join(', ')}`);
    }
    keys = new Set(c.keys as SearchKey[]);
  }
  const orderBy = c.order_by ?? 'rank';
  if (orderBy !== 'rank' && orderBy !== 'recent') throw new MatrixError(400, ErrCode.INVALID_PARAM, 'order_by must be rank or recent');
  let filter: EventFilter | undefined;
  try {
    filter = validateEventFilter(c.filter, 'filter');
  } catch (err) {
    throw badJson((err as Error).message);
  }
  let context: SearchRequest['context'];
  if (c.event_context !== undefined) {
    if (!isJsonObject(c.event_context)) throw badJson('event_context must be an object');
    const { before_limit: before = 5, after_limit: after = 5, include_profile: includeProfile = false } = c.event_context;
    for (const [name, v] of [['before_limit', before], ['after_limit', after]] as const) {
      if (!Number.isInteger(v) || (v as number) < 0) throw new MatrixError(400, ErrCode.INVALID_PARAM, `event_context.${name} must be a non-negative integer`);
    }
    if (typeof includeProfile !== 'boolean') throw badJson('event_context.include_profile must be a boolean');
    context = { before: Math.min(before as number, MAX_CONTEXT), after: Math.min(after as number, MAX_CONTEXT), includeProfile };
  }
  if (c.include_state !== undefined && typeof c.include_state !== 'boolean') throw badJson('include_state must be a boolean');
  const groupBy: SearchRequest['groupBy'] = [];
  if (c.groupings !== undefined) {
    const groups = isJsonObject(c.groupings) ? c.groupings.group_by : undefined;
    if (!Array.isArray(groups)) throw badJson('groupings.group_by must be a list');
    for (const g of groups) {
      const key = isJsonObject(g) ? g.key : undefined;
      if (key !== 'room_id' && key !== 'sender') throw new MatrixError(400, ErrCode.INVALID_PARAM, 'group keys are room_id or sender');
      if (!groupBy.includes(key)) groupBy.push(key);
    }
  }
  return { term: c.search_term, keys, ...(filter ? { filter } : {}), orderBy, ...(context ? { context } : {}), includeState: c.include_state === true, groupBy };
}
