/** All room routes of the Client-Server API. */
import type { FastifyInstance } from 'fastify';
import type { RoomApiDeps } from './deps.js';
import { registerCreateRoomRoutes } from './create-room.js';
import { registerMembershipRoutes } from './membership.js';
import { registerMessageRoutes } from './message.js';
import { registerStateRoutes } from './state.js';
import { registerEventRoutes } from './events.js';
import { registerDirectoryRoutes } from './directory.js';
import { registerSyncRoutes } from './sync.js';
import { registerUserDirectoryRoutes } from './user-directory.js';
import { registerRelationRoutes } from './relations.js';
import { registerHierarchyRoutes } from './hierarchy.js';
import { registerSearchRoutes } from './search.js';
import { registerInitialSyncRoutes } from './initial-sync.js';

export type { RoomApiDeps } from './deps.js';

export function registerRoomRoutes(app: FastifyInstance, deps: RoomApiDeps): void {
  registerCreateRoomRoutes(app, deps);
  registerMembershipRoutes(app, deps);
  registerMessageRoutes(app, deps);
  registerStateRoutes(app, deps);
  registerEventRoutes(app, deps);
  registerDirectoryRoutes(app, deps);
  registerSyncRoutes(app, deps);
  registerUserDirectoryRoutes(app, deps);
  registerRelationRoutes(app, deps);
  registerHierarchyRoutes(app, deps);
  registerSearchRoutes(app, deps);
  registerInitialSyncRoutes(app, deps);
}
