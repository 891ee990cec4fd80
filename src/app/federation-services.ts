/**
 * Federation, assembled whole for the gateway (the third surface beside the Client-Server API in
 * `client-api.ts` and the sensors in `sensors.ts`):
 * - the surface (`federation.ts`): the listener with the key and version endpoints, the X-Matrix
 *   guard, the outgoing client, other servers' keys;
 * - the event pipeline (`federation-rooms.ts`): receiving, answering, membership, sending, catch-up
 *   and pull mode, its routes behind the guard;
 * - what only federation serves: media to other servers, profile and alias queries;
 * - EDUs and E2EE across servers (`federation/edus/federation-edus.ts`);
 * - the wall clock's retry (every destination that backed off is retried once it is right) and the
 *   watch over other servers' copies of our key (`federation/keys/key-copies.ts`).
 * Assembled before the Client-Server API, whose room API joins and invites through `membership`.
 * The gateway then binds the listener (`listen`) and starts sending (`rooms.start`) in its listener
 * phase, after every route is registered.
 */
import type { Logger } from 'pino';
import type { HearthConfig } from '../config/config.js';
import type { Database } from '../storage/db.js';
import type { RoomEngine } from '../rooms/engine.js';
import type { AccountService } from '../accounts/accounts.js';
import type { ReceiptService } from '../accounts/receipts.js';
import type { ToDeviceService } from '../accounts/to-device.js';
import type { TypingManager } from '../accounts/typing.js';
import type { E2eeService } from '../e2ee/service.js';
import type { MediaStore } from '../media/store.js';
import type { Thumbnailer } from '../media/thumbnailer.js';
import type { PresenceService } from '../presence/presence.js';
import type { RoomDirectory } from '../rooms/room-directory.js';
import type { SyncActivity } from '../rooms/sync-activity.js';
import type { ClockGuard } from '../federation/clock/clock-guard.js';
import type { ServerKeyring } from '../federation/keys/keyring.js';
import type { FederationStatusResult } from '../cli/federation.js';
import { registerFederationQueryRoutes } from '../api/federation/query.js';
import { registerFederationMediaRoutes } from '../api/federation/media.js';
import { resolveAliasForServers } from '../federation/serve/alias-servers.js';
import { assembleFederationEdus } from '../federation/edus/federation-edus.js';
import { withRequestLog, withStreamLog } from '../federation/requests.js';
import { assembleFederation, type FederationSurface } from './federation.js';
import { FederationRooms } from './federation-rooms.js';

export interface FederationServicesDeps {
  config: HearthConfig;
  log: Logger;
  db: Database;
  keyring: ServerKeyring;
  clock: ClockGuard;
  engine: RoomEngine;
  accounts: AccountService;
  /** Aliases and the public room list (the room directory the client API uses too). */
  directory: RoomDirectory;
  /** A user's public profile (display name, avatar), for `query/profile`. */
  profileOf(userId: string): Promise<{ displayname?: string; avatar_url?: string }>;
  media: MediaStore;
  thumbnails: Thumbnailer;
  /** Local clients syncing: pull mode asks other servers more often then. */
  syncActivity: SyncActivity;
  typing: TypingManager;
  receipts: ReceiptService;
  presence: PresenceService;
  toDevice: ToDeviceService;
  e2ee: E2eeService;
}

export interface FederationServices {
  readonly surface: FederationSurface;
  readonly rooms: FederationRooms;
  /** What `hearth federation status` shows besides the clock. */
  status(): Promise<Omit<FederationStatusResult, 'clock'>>;
  /** Stops what the assembly started (the EDUs, the clock's retry); the listener and the sender are the gateway's to stop. */
  close(): Promise<void>;
}

export async function assembleFederationServices(deps: FederationServicesDeps): Promise<FederationServices> {
  const { config, log, db, engine, accounts, clock } = deps;
  const serverName = config.serverName;
  const surface = await assembleFederation({ config, log: log.child({ component: 'federation' }), db, keyring: deps.keyring, clock });
  const requests = withRequestLog(surface.client, log.child({ component: 'federation-out' }));
  // Streamed answers (a big room's send_join is read as it arrives), logged like the others.
  const streams = withStreamLog(surface.client, log.child({ component: 'federation-out' }));
  const requireServer = (req: Parameters<FederationSurface['auth']['requireServer']>[0]) => surface.auth.requireServer(req);
  const activeUser = async (userId: string) => {
    const user = await accounts.getUser(userId);
    return user !== undefined && !user.deactivated;
  };

  const rooms = new FederationRooms({
    engine,
    db,
    serverName,
    signingKey: deps.keyring.current,
    requests,
    streams,
    keys: surface.keys,
    userExists: activeUser,
    directory: deps.directory,
    log: log.child({ component: 'federation' }),
    pullIntervalMs: config.federation.pullIntervalSeconds * 1000,
    pullIntervalActiveMs: config.federation.pullIntervalActiveSeconds * 1000,
    clientActive: () => deps.syncActivity.isActive(),
    clock,
  });
  // Set again: every destination that backed off meanwhile is retried now, not at its next backoff.
  const stopClockRetry = clock.onChange((sane) => {
    if (sane) rooms.sender.retryAll();
  });
  rooms.registerRoutes(surface.app, requireServer);
  const keyCopies = surface.watchKeyCopies(() => rooms.sender.status().map((d) => d.destination));
  registerFederationMediaRoutes(surface.app, { originOf: requireServer, media: deps.media, thumbnails: deps.thumbnails });
  surface.onServerContact((origin) => rooms.onServerContact(origin));
  registerFederationQueryRoutes(surface.app, {
    serverName,
    requireServer,
    profileOf: async (userId) => ((await activeUser(userId)) ? deps.profileOf(userId) : undefined),
    resolveAlias: (alias) =>
      resolveAliasForServers({ serverName, aliasTarget: (a) => deps.directory.aliasTarget(a), currentState: (roomId) => engine.currentState(roomId) }, alias),
  });

  // EDUs and end-to-end encryption across servers: typing, receipts, presence, device lists and
  // to-device both ways, other servers' users' keys for /keys/query and /keys/claim, and the
  // user/devices and user/keys routes.
  const edus = await assembleFederationEdus({
    serverName,
    db,
    engine,
    transactions: rooms.transactions,
    sender: rooms.sender,
    requests,
    typing: deps.typing,
    receipts: deps.receipts,
    presence: deps.presence,
    toDevice: deps.toDevice,
    e2ee: deps.e2ee,
    deviceDisplayName: async (userId, deviceId) => (await accounts.listDevices(userId)).find((d) => d.deviceId === deviceId)?.displayName,
    log: log.child({ component: 'federation-edus' }),
  });
  edus.registerRoutes(surface.app, requireServer);

  return {
    surface,
    rooms,
    async status() {
      return {
        destinations: rooms.sender.status(),
        keyCopies: await keyCopies.status(),
        catchUp: rooms.catchUp.stats,
        pullRounds: rooms.pullSchedule.rounds,
      };
    },
    async close() {
      await edus.stop();
      stopClockRetry();
    },
  };
}
