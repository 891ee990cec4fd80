/** Voice over IP (client-server "Voice over IP"): GET /_matrix/client/v3/voip/turnServer. */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { turnCredentials, type TurnConfig } from '../../accounts/turn.js';
import { notFound } from '../../core/errors.js';

export interface VoipDeps {
  requireUser(req: FastifyRequest): Promise<{ userId: string }>;
  turn: TurnConfig;
}

export function registerVoipRoutes(app: FastifyInstance, deps: VoipDeps): void {
  app.get('/_matrix/client/v3/voip/turnServer', async (req) => {
    const user = await deps.requireUser(req);
    // Without a TURN server there are no credentials to give; clients then call peer to peer (or via STUN).
    if (deps.turn.uris.length === 0 || deps.turn.sharedSecret === '') throw notFound('No TURN server is configured (turn.uris and turn.shared_secret in hearth.yaml)');
    return turnCredentials(deps.turn, user.userId, Date.now());
  });
}
