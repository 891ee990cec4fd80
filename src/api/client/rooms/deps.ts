/** What the room routes need, injected by the client API's wiring (src/app/room-api.ts, from src/app/client-api.ts). */
import type { FastifyRequest } from 'fastify';
import type { RoomEngine } from '../../../rooms/engine.js';
import type { MembershipService } from '../../../rooms/membership.js';
import type { EventFormatter } from '../../../rooms/client-event.js';
import type { TimelineReader } from '../../../rooms/timeline.js';
import type { SyncService } from '../../../rooms/sync.js';
import type { SyncActivity } from '../../../rooms/sync-activity.js';
import type { UpgradeRoomDeps } from '../../../rooms/upgrade-room.js';
import type { SyncFilter } from '../../../rooms/filter.js';
import type { SearchService } from '../../../rooms/search.js';
import type { LongPollGate } from '../../../limits/long-polls.js';
import type { RoomDirectory } from '../../../rooms/room-directory.js';
import type { AliasResolver } from '../../../rooms/canonical-alias.js';

export interface Requester {
  userId: string;
  deviceId: string;
}

export interface RoomApiDeps {
  serverName: string;
  requireUser(req: FastifyRequest): Promise<Requester>;
  engine: RoomEngine;
  /** Aliases and the public room list. */
  directory: RoomDirectory;
  /** The room of any alias: ours from the directory, another server's through federation (if on). */
  resolveAlias: AliasResolver;
  membership: MembershipService;
  formatter: EventFormatter;
  timeline: TimelineReader;
  sync: SyncService;
  search: SearchService;
  /** Room creation, and upgrades (which create the replacement room). */
  createRoomDeps: UpgradeRoomDeps;
  /** A stored filter of the user (POST /user/{userId}/filter), or undefined. */
  getFilter(userId: string, filterId: string): Promise<SyncFilter | undefined>;
  /** rc_message: throws 429 M_LIMIT_EXCEEDED when `userId` sends too fast; absent: unlimited. */
  limitSend?(userId: string): void;
  /** Caps on parked /sync long-polls (limits/long-polls.ts); absent: uncapped. */
  longPolls?: LongPollGate;
  /** Told of every /sync (pull mode asks other servers more often while clients sync); absent: nobody. */
  syncActivity?: SyncActivity;
}
