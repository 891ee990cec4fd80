/**
 * Assembles the room side of the Client-Server API around a room engine: membership, formatting,
 * timeline reading, sync, and the routes. Used by the client API assembler (client-api.ts) and by
 * tests.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { RoomEngine } from '../rooms/engine.js';
import type { RoomVersionId } from '../core/types.js';
import { serverNameOf } from '../core/identifiers.js';
import type { RoomDirectory } from '../rooms/room-directory.js';
import { MembershipService, type FederatedMembership } from '../rooms/membership.js';
import { EventFormatter } from '../rooms/client-event.js';
import { TimelineReader } from '../rooms/timeline.js';
import { SyncService, type SyncSources } from '../rooms/sync.js';
import { SearchService } from '../rooms/search.js';
import type { SyncFilter } from '../rooms/filter.js';
import type { UpgradeRoomDeps } from '../rooms/upgrade-room.js';
import type { IgnoredUsersLookup } from '../rooms/visibility.js';
import { registerRoomRoutes, type RoomApiDeps } from '../api/client/rooms/index.js';
import type { LongPollGate } from '../limits/long-polls.js';
import type { SyncActivity } from '../rooms/sync-activity.js';

export interface RoomApiOptions {
  engine: RoomEngine;
  /** `default_room_version` of hearth.yaml: the version of rooms created without one. */
  defaultRoomVersion?: RoomVersionId;
  /** Aliases and the public room list (not events: written beside the engine). */
  directory: RoomDirectory;
  serverName: string;
  requireUser(req: FastifyRequest): Promise<{ userId: string; deviceId: string }>;
  profileOf(userId: string): Promise<{ displayname?: string; avatar_url?: string }>;
  getFilter(userId: string, filterId: string): Promise<SyncFilter | undefined>;
  sources: SyncSources;
  /** The users each user ignores (`m.ignored_user_list`); nobody when absent. */
  ignoredUsersOf?: IgnoredUsersLookup;
  /** Users deactivated with `erase`, by the stream position of the erasure; nobody when absent. */
  erasedUsers?: () => Promise<ReadonlyMap<string, number>>;
  /** rc_message (limits/client-limits.ts); absent: unlimited. */
  limitSend?(userId: string): void;
  /** Caps on parked /sync long-polls; absent: uncapped. */
  longPolls?: LongPollGate;
  /** Told of every /sync (pull mode's faster interval); absent: nobody. */
  syncActivity?: SyncActivity;
  /** Joins, invites and knocks that cross to other servers; absent: local rooms and users only. */
  federation?: FederatedMembership;
}

export interface RoomApi {
  membership: MembershipService;
  createRoomDeps: UpgradeRoomDeps;
  formatter: EventFormatter;
  sync: SyncService;
}

export function buildRoomApi(app: FastifyInstance, opts: RoomApiOptions): RoomApi {
  const { engine, directory } = opts;
  const resolveAlias = async (alias: string) => (await directory.aliasTarget(alias))?.roomId;
  const membership = new MembershipService({
    engine,
    serverName: opts.serverName,
    profileOf: opts.profileOf,
    resolveAlias,
    ...(opts.federation ? { federation: opts.federation } : {}),
  });
  const formatter = new EventFormatter(engine, opts.ignoredUsersOf, opts.erasedUsers);
  const sync = new SyncService(engine, formatter, engine.notifier, opts.sources, opts.ignoredUsersOf);
  const timeline = new TimelineReader(engine, opts.ignoredUsersOf);
  const deps: RoomApiDeps = {
    serverName: opts.serverName,
    requireUser: opts.requireUser,
    engine,
    directory,
    resolveAlias: async (alias) => {
      if (serverNameOf(alias) === opts.serverName) return resolveAlias(alias);
      return (await opts.federation?.resolveAlias(alias))?.roomId;
    },
    membership,
    formatter,
    timeline,
    sync,
    search: new SearchService(engine, formatter, timeline),
    getFilter: opts.getFilter,
    ...(opts.limitSend ? { limitSend: opts.limitSend } : {}),
    ...(opts.longPolls ? { longPolls: opts.longPolls } : {}),
    ...(opts.syncActivity ? { syncActivity: opts.syncActivity } : {}),
    createRoomDeps: {
      engine,
      serverName: opts.serverName,
      ...(opts.defaultRoomVersion ? { defaultRoomVersion: opts.defaultRoomVersion } : {}),
      profileOf: opts.profileOf,
      aliasTaken: async (alias) => (await directory.aliasTarget(alias)) !== undefined,
      setAlias: (alias, roomId, creator) => directory.setAlias(alias, roomId, creator),
      setVisibility: (roomId, visibility) => directory.setVisibility(roomId, visibility),
      aliasesOf: (roomId) => directory.aliasesOf(roomId),
      visibilityOf: (roomId) => directory.visibility(roomId),
      ...(opts.federation ? { inviteRemote: (roomId: string, sender: string, invitee: string, isDirect: boolean) => membership.invite(roomId, sender, invitee, undefined, isDirect) } : {}),
    },
  };
  registerRoomRoutes(app, deps);
  return { membership, formatter, sync, createRoomDeps: deps.createRoomDeps };
}
