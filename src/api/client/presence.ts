/** Presence (client-server-api modules/presence.md, data/api/client-server/presence.yaml). */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { isValidUserId } from '../../core/identifiers.js';
import { forbidden, invalidParam } from '../../core/errors.js';
import { PRESENCE_STATES, type PresenceService } from '../../presence/presence.js';

export interface PresenceRouteDeps {
  requireUser(req: FastifyRequest): Promise<{ userId: string }>;
  presence: Pick<PresenceService, 'setStatus' | 'statusOf' | 'canSee'>;
}

export function registerPresenceRoutes(app: FastifyInstance, deps: PresenceRouteDeps): void {
  /** PUT /_matrix/client/v3/presence/{userId}/status: only one's own presence ("You cannot set the presence state of another user"). */
  app.put<{ Params: { userId: string }; Body: { presence: (typeof PRESENCE_STATES)[number]; status_msg?: string | null } }>(
    '/_matrix/client/v3/presence/:userId/status',
    {
      schema: {
        body: {
          type: 'object',
          required: ['presence'],
          properties: { presence: { type: 'string', enum: [...PRESENCE_STATES] }, status_msg: { type: ['string', 'null'] } },
        },
      },
    },
    async (req) => {
      const requester = await deps.requireUser(req);
      if (requester.userId !== req.params.userId) throw forbidden('You cannot set the presence state of another user');
      deps.presence.setStatus(requester.userId, req.body.presence, req.body.status_msg ?? undefined);
      return {};
    },
  );

  /** GET /_matrix/client/v3/presence/{userId}/status: one's own, or of a user sharing a room (403 otherwise). */
  app.get<{ Params: { userId: string } }>('/_matrix/client/v3/presence/:userId/status', async (req) => {
    const requester = await deps.requireUser(req);
    const { userId } = req.params;
    if (!isValidUserId(userId)) throw invalidParam('Invalid user id');
    if (!(await deps.presence.canSee(requester.userId, userId))) throw forbidden('You are not allowed to see their presence');
    return deps.presence.statusOf(userId);
  });
}
