/** Stored filters (client-server-api "Filtering"). */
import type { FastifyInstance } from 'fastify';
import type { FilterService } from '../../accounts/filters.js';
import type { Authenticator } from '../../http/auth.js';
import { forbidden, notFound } from '../../core/errors.js';

export interface FilterDeps {
  auth: Authenticator;
  filters: Pick<FilterService, 'createFilter' | 'getFilter'>;
}

export function registerFilterRoutes(app: FastifyInstance, deps: FilterDeps): void {
  /** POST /_matrix/client/v3/user/{userId}/filter */
  app.post<{ Params: { userId: string }; Body: unknown }>(
    '/_matrix/client/v3/user/:userId/filter',
    { schema: { body: { type: 'object' } } },
    async (req) => {
      const requester = await deps.auth.requireUser(req);
      if (requester.userId !== req.params.userId) throw forbidden('Cannot create filters for other users');
      return { filter_id: await deps.filters.createFilter(requester.userId, req.body) };
    },
  );

  /** GET /_matrix/client/v3/user/{userId}/filter/{filterId} */
  app.get<{ Params: { userId: string; filterId: string } }>('/_matrix/client/v3/user/:userId/filter/:filterId', async (req) => {
    const requester = await deps.auth.requireUser(req);
    if (requester.userId !== req.params.userId) throw forbidden('Cannot read the filters of other users');
    const filter = await deps.filters.getFilter(requester.userId, req.params.filterId);
    if (!filter) throw notFound('Unknown filter');
    return filter;
  });
}
