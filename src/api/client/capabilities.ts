/** Server capabilities (client-server-api "Capabilities negotiation"). */
import type { FastifyInstance } from 'fastify';
import { DEFAULT_ROOM_VERSION, SUPPORTED_ROOM_VERSIONS, getRoomVersionRules } from '../../core/room-versions.js';
import type { RoomVersionId } from '../../core/types.js';
import type { Authenticator } from '../../http/auth.js';

export interface CapabilitiesDeps {
  auth: Authenticator;
  /** `default_room_version` of hearth.yaml; the spec's recommendation when absent. */
  defaultRoomVersion?: RoomVersionId;
}

export function registerCapabilitiesRoutes(app: FastifyInstance, deps: CapabilitiesDeps): void {
  /** GET /_matrix/client/v3/capabilities */
  app.get('/_matrix/client/v3/capabilities', async (req) => {
    await deps.auth.requireUser(req);
    return {
      capabilities: {
        'm.change_password': { enabled: true },
        // Every version createRoom and the engine accept, with the stability of the rule table.
        'm.room_versions': {
          default: deps.defaultRoomVersion ?? DEFAULT_ROOM_VERSION,
          available: Object.fromEntries(SUPPORTED_ROOM_VERSIONS.map((v) => [v, getRoomVersionRules(v)!.stability])),
        },
        'm.set_displayname': { enabled: true },
        'm.set_avatar_url': { enabled: true },
        // Hearth has no identity-server integration: third-party ids cannot be added or removed.
        'm.3pid_changes': { enabled: false },
      },
    };
  });
}
