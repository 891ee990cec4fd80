/**
 * Querying for information (server-server "Querying for information", query.yaml), for
 * authenticated servers only:
 * - GET /_matrix/federation/v1/query/profile?user_id=&field=: a local user's profile;
 * - GET /_matrix/federation/v1/query/directory?room_alias=: the room a local alias names and the
 *   servers in it (whoever joins through one of them).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { invalidParam, missingParam, notFound } from '../../core/errors.js';
import { isValidRoomAlias, isValidUserId, serverNameOf } from '../../core/identifiers.js';

const PROFILE_FIELDS = ['displayname', 'avatar_url'] as const;

export interface FederationQueryDeps {
  serverName: string;
  /** The authenticated origin, or 401 M_UNAUTHORIZED. */
  requireServer(req: FastifyRequest): Promise<string>;
  /** A local user's profile; undefined when there is no such user. */
  profileOf(userId: string): Promise<{ displayname?: string; avatar_url?: string } | undefined>;
  /** The room a local alias names and the servers in it; undefined when unknown or kept home. */
  resolveAlias(alias: string): Promise<{ roomId: string; servers: string[] } | undefined>;
}

export function registerFederationQueryRoutes(app: FastifyInstance, deps: FederationQueryDeps): void {
  app.get<{ Querystring: Record<string, unknown> }>('/_matrix/federation/v1/query/profile', async (req) => {
    await deps.requireServer(req);
    const userId = req.query.user_id;
    const field = req.query.field;
    if (typeof userId !== 'string') throw missingParam('user_id is required');
    if (!isValidUserId(userId)) throw invalidParam('user_id is not a user id');
    if (field !== undefined && (typeof field !== 'string' || !(PROFILE_FIELDS as readonly string[]).includes(field))) {
      throw invalidParam(`field must be one of ${PROFILE_FIELDS.join(', ')}`);
    }
    // "MUST be a user local to the receiving homeserver."
    if (serverNameOf(userId) !== deps.serverName) throw notFound('The user is not on this server');
    const profile = await deps.profileOf(userId);
    if (!profile) throw notFound('No such user');
    if (field !== undefined) {
      const value = profile[field as (typeof PROFILE_FIELDS)[number]];
      if (value === undefined) throw notFound(`The user has no ${field}`);
      return { [field]: value };
    }
    const out: Record<string, string> = {};
    for (const f of PROFILE_FIELDS) if (profile[f] !== undefined) out[f] = profile[f]!;
    return out;
  });

  app.get<{ Querystring: Record<string, unknown> }>('/_matrix/federation/v1/query/directory', async (req) => {
    await deps.requireServer(req);
    const alias = req.query.room_alias;
    if (typeof alias !== 'string') throw missingParam('room_alias is required');
    if (!isValidRoomAlias(alias)) throw invalidParam('room_alias is not a room alias');
    const target = serverNameOf(alias) === deps.serverName ? await deps.resolveAlias(alias) : undefined;
    if (!target) throw notFound('Room alias not found');
    return { room_id: target.roomId, servers: target.servers };
  });
}
