/** The space hierarchy (client-server "Spaces"): GET /_matrix/client/v1/rooms/{roomId}/hierarchy. */
import type { FastifyInstance } from 'fastify';
import { ErrCode, MatrixError, forbidden } from '../../../core/errors.js';
import { mayPreviewInHierarchy, spaceHierarchy } from '../../../rooms/space-hierarchy.js';
import type { RoomApiDeps } from './deps.js';
import { intQuery } from './params.js';

const DEFAULT_LIMIT = 50;
const MAX_LIMIT = 100;
/** Synapse's bound on depth; also the default. */
const MAX_DEPTH = 50;

type Query = Record<string, string | undefined>;

export function registerHierarchyRoutes(app: FastifyInstance, deps: RoomApiDeps): void {
  app.get<{ Params: { roomId: string }; Querystring: Query }>('/_matrix/client/v1/rooms/:roomId/hierarchy', async (req) => {
    const user = await deps.requireUser(req);
    const { roomId } = req.params;
    const q = req.query;
    if (q.limit === '0') throw new MatrixError(400, ErrCode.INVALID_PARAM, 'limit must be greater than zero');
    const limit = intQuery(q.limit, 'limit', DEFAULT_LIMIT, MAX_LIMIT);
    const maxDepth = intQuery(q.max_depth, 'max_depth', MAX_DEPTH, MAX_DEPTH);
    const suggestedRaw = q.suggested_only ?? 'false';
    if (suggestedRaw !== 'true' && suggestedRaw !== 'false') throw new MatrixError(400, ErrCode.INVALID_PARAM, 'suggested_only must be true or false');
    const suggestedOnly = suggestedRaw === 'true';

    let skip = 0;
    if (q.from !== undefined) {
      const token = parseHierarchyToken(q.from);
      if (!token) throw new MatrixError(400, ErrCode.INVALID_PARAM, 'Unknown pagination token');
      if (token.maxDepth !== maxDepth || token.suggestedOnly !== suggestedOnly) {
        throw new MatrixError(400, ErrCode.INVALID_PARAM, 'suggested_only and max_depth cannot change on paginated requests');
      }
      skip = token.skip;
    }

    // An unknown room and one the user may not preview answer alike (hierarchy 403).
    if (!deps.engine.room(roomId) || !(await mayPreviewInHierarchy(deps.engine, user.userId, roomId, await deps.engine.currentState(roomId)))) {
      throw forbidden('You are not allowed to view this room.');
    }
    const page = await spaceHierarchy(deps.engine, user.userId, roomId, { limit, maxDepth, suggestedOnly, skip });
    const body: Record<string, unknown> = { rooms: page.rooms };
    if (page.nextSkip !== undefined) body.next_batch = `y${page.nextSkip}_${maxDepth}_${suggestedOnly ? 1 : 0}`;
    return body;
  });
}

function parseHierarchyToken(raw: string): { skip: number; maxDepth: number; suggestedOnly: boolean } | undefined {
  const m = /^y(\d{1,9})_(\d{1,3})_([01])$/.exec(raw);
  return m ? { skip: Number(m[1]), maxDepth: Number(m[2]), suggestedOnly: m[3] === '1' } : undefined;
}
