/** GET /_matrix/client/v3/sync (client-server-api "Syncing"). */
import type { FastifyInstance } from 'fastify';
import { ErrCode, MatrixError } from '../../../core/errors.js';
import { parseSyncToken } from '../../../rooms/tokens.js';
import { isPresenceState } from '../../../presence/presence.js';
import type { RoomApiDeps } from './deps.js';
import { intQuery, resolveFilter } from './params.js';
import { limitExceeded } from '../../../limits/client-limits.js';
import { LONG_POLL_RETRY_AFTER_MS } from '../../../limits/long-polls.js';

/** Long-polls are capped so a stuck client cannot hold a connection forever. */
const MAX_TIMEOUT_MS = 5 * 60 * 1000;

export function registerSyncRoutes(app: FastifyInstance, deps: RoomApiDeps): void {
  app.get<{ Querystring: Record<string, string | undefined> }>('/_matrix/client/v3/sync', async (req, reply) => {
    const user = await deps.requireUser(req);
    const q = req.query;
    const since = q.since ? parseSyncToken(q.since) : undefined;
    const timeoutMs = intQuery(q.timeout, 'timeout', 0, MAX_TIMEOUT_MS);
    if (q.full_state !== undefined && q.full_state !== 'true' && q.full_state !== 'false') {
      throw new MatrixError(400, ErrCode.INVALID_PARAM, 'full_state must be true or false');
    }
    const setPresence = q.set_presence;
    if (setPresence !== undefined && !isPresenceState(setPresence)) {
      throw new MatrixError(400, ErrCode.INVALID_PARAM, 'set_presence must be online, offline or unavailable');
    }
    const filter = await resolveFilter(q.filter, user.userId, deps.getFilter);
    // Stop waiting when the client goes away ('close' on the response: the connection ended early).
    const abort = new AbortController();
    reply.raw.once('close', () => abort.abort());
    // A long-poll (a since token and a timeout) parks: it takes one of the capped slots (sync.max_long_polls).
    const parks = since !== undefined && timeoutMs > 0 && deps.longPolls !== undefined;
    const release = parks ? deps.longPolls!.enter(user.userId) : undefined;
    if (parks && !release) throw limitExceeded(LONG_POLL_RETRY_AFTER_MS, 'long-polling /sync requests');
    const ended = deps.syncActivity?.begin();
    try {
      return await deps.sync.sync({
        userId: user.userId,
        deviceId: user.deviceId,
        since,
        timeoutMs,
        fullState: q.full_state === 'true',
        filter,
        signal: abort.signal,
        setPresence,
      });
    } finally {
      release?.();
      ended?.();
    }
  });
}
