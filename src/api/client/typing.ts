/** Typing notifications (modules/typing_notifications.md). */
import type { FastifyInstance } from 'fastify';
import type { TypingManager } from '../../accounts/typing.js';
import type { Authenticator } from '../../http/auth.js';
import { forbidden } from '../../core/errors.js';

export interface TypingDeps {
  auth: Authenticator;
  typing: Pick<TypingManager, 'setTyping'>;
  /** Whether the user is joined to the room now (the room engine's membership view). */
  isJoined(userId: string, roomId: string): Promise<boolean>;
}

export function registerTypingRoutes(app: FastifyInstance, deps: TypingDeps): void {
  /** PUT /_matrix/client/v3/rooms/{roomId}/typing/{userId} */
  app.put<{ Params: { roomId: string; userId: string }; Body: { typing: boolean; timeout?: number } }>(
    '/_matrix/client/v3/rooms/:roomId/typing/:userId',
    {
      schema: {
        body: {
          type: 'object',
          required: ['typing'],
          properties: { typing: { type: 'boolean' }, timeout: { type: 'integer', minimum: 0 } },
        },
      },
    },
    async (req) => {
      const requester = await deps.auth.requireUser(req);
      const { roomId, userId } = req.params;
      if (requester.userId !== userId) throw forbidden('Cannot set typing for another user');
      if (!(await deps.isJoined(userId, roomId))) throw forbidden('You are not in this room');
      deps.typing.setTyping(roomId, userId, req.body.typing, req.body.timeout);
      return {};
    },
  );
}
