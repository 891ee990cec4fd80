/** Listing notifications (client-server "Listing Notifications"): GET /_matrix/client/v3/notifications. */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ErrCode, MatrixError } from '../../core/errors.js';
import type { NotificationList } from '../../push/notification-list.js';

export interface NotificationsDeps {
  requireUser(req: FastifyRequest): Promise<{ userId: string }>;
  notifications: Pick<NotificationList, 'list'>;
}

const DEFAULT_LIMIT = 20;
const MAX_LIMIT = 100;

export function registerNotificationRoutes(app: FastifyInstance, deps: NotificationsDeps): void {
  app.get<{ Querystring: { from?: string; limit?: string; only?: string } }>('/_matrix/client/v3/notifications', async (req) => {
    const user = await deps.requireUser(req);
    const { from, limit: rawLimit, only } = req.query;
    if (from !== undefined && !/^\d{1,15}$/.test(from)) throw new MatrixError(400, ErrCode.INVALID_PARAM, 'Unknown from token');
    let limit = DEFAULT_LIMIT;
    if (rawLimit !== undefined) {
      limit = Number(rawLimit);
      if (!Number.isInteger(limit) || limit < 1) throw new MatrixError(400, ErrCode.INVALID_PARAM, 'limit must be a positive integer');
      limit = Math.min(limit, MAX_LIMIT);
    }
    // notifications.yaml: `only` "Allows basic filtering of events returned. Supply `highlight`".
    if (only !== undefined && only !== 'highlight') throw new MatrixError(400, ErrCode.INVALID_PARAM, 'only must be highlight');
    const page = await deps.notifications.list(user.userId, { ...(from !== undefined ? { before: Number(from) } : {}), limit, onlyHighlight: only === 'highlight' });
    return { notifications: page.notifications, ...(page.next !== undefined ? { next_token: String(page.next) } : {}) };
  });
}
