/**
 * The Client-Server API surface, assembled: the HTTP server (CORS, r0, CBOR and identifier checks
 * in http/server.ts), /health, the access-token authenticator, and every client route family
 * around the core services: accounts (account-api.ts), presence, pushers, reports, key backup,
 * media, keys, rooms and sync (room-api.ts), notifications. One of the gateway's three assemblers,
 * beside sensors (sensors.ts) and federation (federation.ts, federation-rooms.ts); assembled after
 * federation, which the room API joins and invites through, and before sensors, which put the
 * reading-history endpoint on `app` and create device rooms with `createRoomDeps`. The flow of a
 * message through it is drawn in docs/architecture.md.
 */
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { HearthConfig } from '../config/config.js';
import type { JsonObject } from '../core/types.js';
import type { AccountService } from '../accounts/accounts.js';
import type { AccountDataService } from '../accounts/account-data.js';
import type { FilterService } from '../accounts/filters.js';
import type { PushRulesService } from '../accounts/push-rules.js';
import type { ReceiptService } from '../accounts/receipts.js';
import type { ToDeviceService } from '../accounts/to-device.js';
import type { TypingManager } from '../accounts/typing.js';
import { UserInteractiveAuth } from '../accounts/uia.js';
import { registerHealthRoutes } from '../api/client/health.js';
import { registerKeyBackupRoutes } from '../api/client/key-backup.js';
import { registerKeysRoutes } from '../api/client/keys.js';
import { registerMediaRoutes } from '../api/client/media.js';
import { registerNotificationRoutes } from '../api/client/notifications.js';
import { registerPresenceRoutes } from '../api/client/presence.js';
import { registerPushersRoutes } from '../api/client/pushers.js';
import { registerReportRoutes } from '../api/client/report.js';
import { KeyBackupService } from '../e2ee/key-backup.js';
import type { E2eeService } from '../e2ee/service.js';
import type { FederationClient } from '../federation/transport/client.js';
import { createAuthenticator, type Authenticator } from '../http/auth.js';
import { createHttpServer } from '../http/server.js';
import { ClientRateLimits } from '../limits/client-limits.js';
import { LongPollGate } from '../limits/long-polls.js';
import { RemoteMediaCache } from '../media/remote-media.js';
import type { MediaStore } from '../media/store.js';
import type { Thumbnailer } from '../media/thumbnailer.js';
import { ReportService } from '../moderation/reports.js';
import type { PresenceService } from '../presence/presence.js';
import type { NotificationCounts } from '../push/notification-counts.js';
import { NotificationList } from '../push/notification-list.js';
import type { PusherService } from '../push/pushers.js';
import { receiptsResettingCounts } from '../push/read-receipts.js';
import type { RoomEngine } from '../rooms/engine.js';
import type { FederatedMembership } from '../rooms/membership.js';
import type { RoomDirectory } from '../rooms/room-directory.js';
import type { SyncActivity } from '../rooms/sync-activity.js';
import type { IgnoredUsersLookup } from '../rooms/visibility.js';
import type { Database } from '../storage/db.js';
import { ReportStore } from '../storage/reports.js';
import type { StreamNotifier } from '../stream/notifier.js';
import { registerAccountApi } from './account-api.js';
import { describeListenError } from './listen-error.js';
import { buildRoomApi, type RoomApi } from './room-api.js';

export interface ClientApiDeps {
  config: HearthConfig;
  log: Logger;
  db: Database;
  engine: RoomEngine;
  /** Closed when the HTTP server starts closing: parked /sync long-polls are answered first. */
  notifier: StreamNotifier;
  /** The wall clock's judgement: a wrong clock is reported by /health (federation paused). */
  clock: { problem(): string | undefined };
  accounts: AccountService;
  accountData: AccountDataService;
  filters: FilterService;
  pushRules: PushRulesService;
  receipts: ReceiptService;
  toDevice: ToDeviceService;
  typing: TypingManager;
  e2ee: E2eeService;
  notificationCounts: NotificationCounts;
  pushers: PusherService;
  presence: PresenceService;
  ignoredUsersOf: IgnoredUsersLookup;
  media: MediaStore;
  thumbnails: Thumbnailer;
  /** Aliases and the public room list, shared with federation's directory queries. */
  directory: RoomDirectory;
  /** Told of every /sync: pull mode asks other servers more often while a client syncs. */
  syncActivity: SyncActivity;
  /** A user's public profile (displayname, avatar_url), as member events carry it. */
  profileOf(userId: string): Promise<{ displayname?: string; avatar_url?: string }>;
  /** Joins, invites and knocks across servers (federation-rooms.ts); other servers' media through the client. */
  federation: { membership: FederatedMembership; client: Pick<FederationClient, 'stream'> };
  /** Called with the new HTTP server before any route: request metrics hook in here (metrics/). */
  instrument?: (app: FastifyInstance) => void;
  /** Called when the server starts closing, beside the notifier: other long-polls answer too (the status page's). */
  onClosing?: () => void;
}

export interface ClientApiSurface {
  /** The Client-Server listener's fastify instance: sensors add their route before `listen()`. */
  readonly app: FastifyInstance;
  /** `auth.requireUser(req)`: the request's user and device, or 401 M_MISSING_TOKEN / M_UNKNOWN_TOKEN. */
  readonly auth: Authenticator;
  /** Membership, formatting, sync and `createRoomDeps` (device rooms are created the same way). */
  readonly roomApi: RoomApi;
  /** Binds the client port (a taken port becomes a ListenError naming the setting). */
  listen(): Promise<void>;
  /** Closes the listener; parked /sync long-polls are answered first (see `notifier`). */
  close(): Promise<void>;
}

export async function assembleClientApi(deps: ClientApiDeps): Promise<ClientApiSurface> {
  const { config, log, db, engine, notifier, accounts, accountData, filters, pushRules, receipts, toDevice, typing, e2ee } = deps;
  const { notificationCounts, pushers, presence, ignoredUsersOf, media, profileOf } = deps;
  const serverName = config.serverName;
  const countingReceipts = receiptsResettingCounts(receipts, notificationCounts);
  // A read receipt also updates the badge on the user's phones (a counts-only push).
  const readReceipts: typeof countingReceipts = {
    async setReceipt(userId, roomId, receiptType, eventId, threadId) {
      await countingReceipts.setReceipt(userId, roomId, receiptType, eventId, threadId);
      pushers.onRead(userId);
    },
  };
  const uia = new UserInteractiveAuth({
    checkPassword: (userId, password) => accounts.checkPassword(userId, password),
    resolveUser: (user) => accounts.resolveLoginUser(user),
    isValidRegistrationToken: (token) => config.registration.tokens.includes(token),
  });

  // Closing the HTTP server answers parked /sync long-polls first, or it would wait for them.
  const app = createHttpServer({
    logger: log.child({ component: 'http' }),
    onClosing: () => {
      notifier.close();
      deps.onClosing?.();
    },
  });
  deps.instrument?.(app);
  registerHealthRoutes(app, {
    problem: () => {
      const fault = db.health.current;
      return fault ? `storage is failing since ${new Date(fault.since).toISOString()}: ${fault.reason}` : undefined;
    },
    degraded: () => {
      const wrong = deps.clock.problem();
      return wrong === undefined ? [] : [`federation is paused: this server's clock is not set (${wrong})`];
    },
  });
  const auth = createAuthenticator(accounts);
  const isJoined = (userId: string, roomId: string) => engine.isJoined(userId, roomId);
  // Rate limits (limits/client-limits.ts): off only when configured so (test rigs, benchmarks).
  const limits = config.rateLimits.enabled ? new ClientRateLimits(config.rateLimits) : undefined;
  registerAccountApi(app, {
    ...(limits ? { limits } : {}),
    config,
    auth,
    accounts,
    uia,
    accountData,
    filters,
    pushRules,
    typing,
    receipts: readReceipts,
    toDevice,
    isJoined,
    // Called at request time, once the room API below exists.
    onProfileChange: (userId, profile) => roomApi.membership.propagateProfile(userId, profile),
    leaveAllRooms: (userId) => roomApi.membership.leaveAll(userId),
  });
  registerPresenceRoutes(app, { requireUser: (req) => auth.requireUser(req), presence });
  registerPushersRoutes(app, { requireUser: (req) => auth.requireUser(req), pushers });
  const reportStore = new ReportStore(db);
  await reportStore.open();
  registerReportRoutes(app, {
    requireUser: (req) => auth.requireUser(req),
    engine,
    reports: new ReportService({
      store: reportStore,
      engine,
      userExists: async (userId) => {
        const user = await accounts.getUser(userId);
        return user !== undefined && !user.deactivated;
      },
      log: log.child({ component: 'reports' }),
    }),
  });
  registerKeyBackupRoutes(app, { requireUser: (req) => auth.requireUser(req), backups: new KeyBackupService(db) });
  registerMediaRoutes(app, {
    requireUser: (req) => auth.requireUser(req),
    media,
    thumbnails: deps.thumbnails,
    serverName,
    maxUploadBytes: config.media.maxUploadBytes,
    // Other servers' media, fetched once over federation.
    remote: new RemoteMediaCache({
      db,
      media,
      maxBytes: config.media.maxUploadBytes,
      download: async (server, mediaId, maxBytes) => {
        const stream = await deps.federation.client.stream({ method: 'GET', destination: server, path: `/_matrix/federation/v1/media/download/${encodeURIComponent(mediaId)}`, maxResponseBytes: maxBytes });
        const chunks: Buffer[] = [];
        for await (const chunk of stream) chunks.push(chunk as Buffer);
        return Buffer.concat(chunks);
      },
    }),
  });
  registerKeysRoutes(app, {
    serverName,
    e2ee,
    requireUser: (req) => auth.requireUser(req),
    checkPassword: (userId, password) => accounts.checkPassword(userId, password),
  });

  const roomApi = buildRoomApi(app, {
    federation: deps.federation.membership,
    defaultRoomVersion: config.defaultRoomVersion,
    ...(limits ? { limitSend: (userId: string) => limits.takeMessage(userId) } : {}),
    longPolls: new LongPollGate(config.sync),
    syncActivity: deps.syncActivity,
    engine,
    directory: deps.directory,
    serverName,
    requireUser: (req) => auth.requireUser(req),
    profileOf,
    getFilter: (userId, id) => filters.getFilter(userId, id),
    ignoredUsersOf,
    erasedUsers: () => accounts.erasedUsers(),
    sources: {
      accountDataSince: (userId, from, to) => accountData.accountDataSince(userId, from, to),
      toDeviceSince: (userId, deviceId, from, to) => toDevice.toDeviceSince(userId, deviceId, from, to),
      acknowledgeToDevice: (userId, deviceId, upTo) => toDevice.acknowledgeToDevice(userId, deviceId, upTo),
      receiptsSince: (roomIds, from, to, viewerId) => receipts.receiptsSince(roomIds, from, to, viewerId),
      typingFor: (roomId) => typing.typingFor(roomId),
      typingChangedSince: (roomId, serial) => typing.typingChangedSince(roomId, serial),
      deviceListsSince: (userId, from, to) => e2ee.deviceListsSince(userId, from, to),
      oneTimeKeyCounts: (userId, deviceId) => e2ee.oneTimeKeyCounts(userId, deviceId),
      unusedFallbackKeyTypes: (userId, deviceId) => e2ee.unusedFallbackKeyTypes(userId, deviceId),
      unreadCounts: (userId, roomId) => notificationCounts.unreadCounts(userId, roomId),
      threadedUnreadCounts: (userId, roomId) => notificationCounts.threadedUnreadCounts(userId, roomId),
      userSyncing: (userId, setPresence) => presence.userSyncing(userId, setPresence),
      presenceSince: (userId, since, to, newlyShared) => presence.eventsFor(userId, since, to, newlyShared),
    },
  });

  registerNotificationRoutes(app, {
    requireUser: (req) => auth.requireUser(req),
    notifications: new NotificationList({
      engine,
      counts: notificationCounts,
      pushRulesFor: (userId) => pushRules.pushRulesFor(userId),
      ignoredUsersOf,
      format: async (event, userId) => (await roomApi.formatter.format(event, { userId })) as unknown as JsonObject,
    }),
  });

  return {
    app,
    auth,
    roomApi,
    async listen() {
      try {
        await app.listen({ host: config.client.bindAddress, port: config.client.port });
      } catch (err) {
        const { bindAddress: host, port } = config.client;
        throw describeListenError(err, { what: 'the Client-Server API', host, port, setting: 'client.port', env: 'HEARTH_CLIENT_PORT' });
      }
    },
    close: () => app.close(),
  };
}
