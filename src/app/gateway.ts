/**
 * The gateway: one process that assembles every service with constructor injection and owns their
 * lifecycle. Start order: storage -> accounts and rooms -> HTTP routes -> telemetry and bridge ->
 * MQTT broker -> listeners -> admin socket. Stop runs the other way, so buffered writes (telemetry,
 * MQTT persistence) land before the database closes.
 */
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { HearthConfig } from '../config/config.js';
import type { JsonObject } from '../core/types.js';
import { Database } from '../storage/db.js';
import { lastStreamPosition } from '../stream/stream-position.js';
import { StreamNotifier } from '../stream/notifier.js';
import { RoomEngine } from '../rooms/engine.js';
import { createHttpServer } from '../http/server.js';
import { createAuthenticator } from '../http/auth.js';
import { AccountService } from '../accounts/accounts.js';
import { AccountDataService } from '../accounts/account-data.js';
import { FilterService } from '../accounts/filters.js';
import { PushRulesService } from '../accounts/push-rules.js';
import { ReceiptService } from '../accounts/receipts.js';
import { ToDeviceService } from '../accounts/to-device.js';
import { TypingManager } from '../accounts/typing.js';
import { UserInteractiveAuth } from '../accounts/uia.js';
import { E2eeService } from '../e2ee/service.js';
import { engineMembershipView } from '../e2ee/membership-view.js';
import { registerKeysRoutes } from '../api/client/keys.js';
import { registerPresenceRoutes } from '../api/client/presence.js';
import { registerMediaRoutes } from '../api/client/media.js';
import { registerKeyBackupRoutes } from '../api/client/key-backup.js';
import { KeyBackupService } from '../e2ee/key-backup.js';
import { MediaStore } from '../media/store.js';
import { NotificationCounts } from '../push/notification-counts.js';
import { PusherService } from '../push/pushers.js';
import { ignoredUsersLookup } from '../accounts/ignored-users.js';
import { PusherStore } from '../storage/pushers.js';
import { registerPushersRoutes } from '../api/client/pushers.js';
import { registerReportRoutes } from '../api/client/report.js';
import { registerNotificationRoutes } from '../api/client/notifications.js';
import { NotificationList } from '../push/notification-list.js';
import { ReportService } from '../moderation/reports.js';
import { ReportStore } from '../storage/reports.js';
import { readReceiptsOf, receiptsResettingCounts } from '../push/read-receipts.js';
import { PresenceService } from '../presence/presence.js';
import { joinedRoomsVia } from '../presence/joined-rooms.js';
import type { EmbeddedBroker } from '../mqtt/broker/embedded.js';
import { adminSocketPath, startAdminSocket } from '../cli/admin-socket.js';
import { userAdminHandlers } from '../cli/user.js';
import { deviceAdminHandlers } from '../cli/device.js';
import { loadOrCreateKeyring } from '../federation/keys/key-files.js';
import { assembleFederation } from './federation.js';
import { assembleSensors } from './sensors.js';
import { registerFederationQueryRoutes } from '../api/federation/query.js';
import { resolveAliasForServers } from '../federation/serve/alias-servers.js';
import { FederationRooms } from './federation-rooms.js';
import { assembleFederationEdus } from '../federation/edus/federation-edus.js';
import { withRequestLog, withStreamLog } from '../federation/requests.js';
import { RemoteMediaCache } from '../media/remote-media.js';
import { registerFederationMediaRoutes } from '../api/federation/media.js';
import { buildRoomApi } from './room-api.js';
import { RoomDirectory } from '../rooms/room-directory.js';
import { registerAccountApi } from './account-api.js';
import { startIdleHeapTrim } from './idle-heap-trim.js';
import { describeListenError } from './listen-error.js';
import { ClientRateLimits } from '../limits/client-limits.js';
import { LongPollGate } from '../limits/long-polls.js';
import { ConnectionGate, connectionBudget } from '../limits/connections.js';
import { registerHealthRoutes } from '../api/client/health.js';
import { ClockGuard } from '../federation/clock/clock-guard.js';
import { SyncActivity } from '../rooms/sync-activity.js';
import { effectiveFloor } from '../federation/clock/clock-sanity.js';
import { newestOwnEventTs } from '../federation/clock/recorded-time.js';
import { serverNameOf } from '../core/identifiers.js';

interface Closable {
  name: string;
  close(): Promise<void>;
}

export class Gateway {
  private readonly closables: Closable[] = [];
  private broker: EmbeddedBroker | undefined;
  private connections!: ConnectionGate;

  constructor(
    private readonly config: HearthConfig,
    private readonly log: Logger,
  ) {}

  get clientUrl(): string {
    return `http://${this.config.client.bindAddress}:${this.config.client.port}`;
  }

  /** The embedded broker's TCP port, or undefined in external-broker mode. */
  get mqttPort(): number | undefined {
    return this.broker?.port;
  }

  async start(): Promise<void> {
    const { config, log } = this;
    const serverName = config.serverName;

    // ---- storage and the core services
    const db = await Database.open(join(config.dataDir, 'db'), { ...config.storage, logger: log.child({ component: 'storage' }) });
    this.closables.push({ name: 'database', close: () => db.close() });
    if (db.droppedAtOpen.length > 0) {
      // Lost before this start (a log cut by a crash or a copy): nothing to repair, but never silent.
      log.error({ dropped: db.droppedAtOpen }, 'LevelDB dropped damaged records of its log at open: writes acknowledged before the damage may be lost');
      process.stderr.write(`hearth: the database log was damaged and LevelDB dropped part of it:\n  ${db.droppedAtOpen.join('\n  ')}\n`);
    }
    if (db.lostWrites) {
      const { durable, found } = db.lostWrites;
      log.error({ durable, found }, 'the database lost acknowledged writes: its log ends before the last write known durable');
      process.stderr.write(
        `hearth: the database lost acknowledged writes: it ends at write batch ${found}, but batch ${durable} had been made durable (a cut log or a card that lost data; docs/storage.md "Damaged database files")\n`,
      );
    }
    // Sockets and LevelDB's files share the descriptor limit: client connections stop below it.
    this.connections = new ConnectionGate(connectionBudget(config.connections.max), log.child({ component: 'connections' }));
    const keyring = loadOrCreateKeyring(config.dataDir, serverName);
    const signingKey = keyring.current;
    const notifier = new StreamNotifier(await lastStreamPosition(db));
    const engine = new RoomEngine({ db, notifier, serverName, signingKey, log: log.child({ component: 'rooms' }) });
    await engine.open();
    // The wall clock, judged before anything is signed for other servers (docs/federation.md "Clock").
    const configuredFloor = config.federation.clockNotBefore === '' ? undefined : Date.parse(config.federation.clockNotBefore);
    const clockFloorMs = effectiveFloor(configuredFloor);
    const clock = new ClockGuard({
      floorMs: clockFloorMs,
      newestRecordedMs: await newestOwnEventTs(engine, serverName, notifier.position, clockFloorMs),
      log: log.child({ component: 'clock' }),
    });
    clock.start();
    this.closables.push({ name: 'clock', close: async () => clock.stop() });
    const stopClockEvidence = engine.onEvent((event) => {
      if (serverNameOf(event.pdu.sender) === serverName) clock.recorded(event.pdu.origin_server_ts);
    });
    this.closables.push({ name: 'clock-evidence', close: async () => void stopClockEvidence() });

    // The two know each other: E2EE reads the account's devices; deleting a device drops its keys.
    const e2ee: E2eeService = new E2eeService({
      db,
      notifier,
      serverName,
      memberships: engineMembershipView(engine),
      userDevices: async (userId) => (await accounts.listDevices(userId)).map((d) => ({ deviceId: d.deviceId, displayName: d.displayName })),
    });
    const accounts: AccountService = new AccountService(db, config, notifier, {
      onDeviceDeleted: async (userId, deviceId) => {
        await e2ee.onDeviceDeleted(userId, deviceId);
        await pushers.removeDevice(userId, deviceId);
      },
    });
    const pushRules = new PushRulesService(db, notifier);
    const accountData = new AccountDataService(db, notifier, pushRules);
    const filters = new FilterService(db);
    const ignoredUsersOf = ignoredUsersLookup(accountData);
    const receipts = new ReceiptService(db, notifier);
    const toDevice = new ToDeviceService(db, notifier, accounts);
    const typing = new TypingManager(notifier);
    this.closables.push({ name: 'typing', close: async () => typing.stop() });
    // Unread counts and presence live in memory (docs/notifications.md).
    const notificationCounts = new NotificationCounts({
      engine,
      pushRulesFor: (userId) => pushRules.pushRulesFor(userId),
      readReceipts: async (userId, roomId) =>
        readReceiptsOf((await receipts.receiptsSince([roomId], 0, notifier.position, userId)).get(roomId) ?? {}, userId),
      ignoredUsersOf,
      onError: (err) => log.error({ err }, 'notification count update failed'),
    });
    notificationCounts.start();
    this.closables.push({ name: 'notification-counts', close: async () => notificationCounts.stop() });
    // Pushers deliver to push gateways from the stream, durably (docs/notifications.md).
    const pushers: PusherService = new PusherService({
      store: new PusherStore(db),
      engine,
      pushRulesFor: (userId) => pushRules.pushRulesFor(userId),
      unreadRooms: async (userId) => {
        let rooms = 0;
        for (const m of await engine.roomsOf(userId)) {
          if (m.membership === 'join' && (await notificationCounts.unreadCounts(userId, m.roomId)).notification_count > 0) rooms++;
        }
        return rooms;
      },
      ignoredUsersOf,
      log: log.child({ component: 'pushers' }),
    });
    await pushers.start();
    this.closables.push({ name: 'pushers', close: () => pushers.stop() });
    const presence = new PresenceService({ notifier, joinedRoomsOf: joinedRoomsVia(engine) });
    presence.start();
    this.closables.push({ name: 'presence', close: async () => presence.stop() });
    const stopPresenceActivity = engine.onEvent((event) => presence.markActive(event.pdu.sender));
    this.closables.push({ name: 'presence-activity', close: async () => void stopPresenceActivity() });
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

    // ---- the Client-Server API
    // Closing the HTTP server answers parked /sync long-polls first, or it would wait for them.
    const app = createHttpServer({ logger: log.child({ component: 'http' }), onClosing: () => notifier.close() });
    this.connections.attach(app.server);
    registerHealthRoutes(app, {
      problem: () => {
        const fault = db.health.current;
        return fault ? `storage is failing since ${new Date(fault.since).toISOString()}: ${fault.reason}` : undefined;
      },
      degraded: () => {
        const wrong = clock.problem();
        return wrong === undefined ? [] : [`federation is paused: this server's clock is not set (${wrong})`];
      },
    });
    const auth = createAuthenticator(accounts);
    const isJoined = (userId: string, roomId: string) => engine.isJoined(userId, roomId);
    const profileOf = async (userId: string) => {
      const p = await accounts.getProfile(userId);
      const out: { displayname?: string; avatar_url?: string } = {};
      if (p?.displayname) out.displayname = p.displayname;
      if (p?.avatar_url) out.avatar_url = p.avatar_url;
      return out;
    };
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
      leaveAllRooms: async (userId) => {
        for (const m of await engine.roomsOf(userId)) {
          if (m.membership === 'join' || m.membership === 'invite' || m.membership === 'knock') await roomApi.membership.leave(m.roomId, userId);
        }
      },
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
    const media = new MediaStore(db, config.dataDir);
    registerMediaRoutes(app, {
      requireUser: (req) => auth.requireUser(req),
      media,
      serverName,
      maxUploadBytes: config.media.maxUploadBytes,
      // Other servers' media over federation (the client below is assembled further down; used per request).
      remote: new RemoteMediaCache({
        db,
        media,
        maxBytes: config.media.maxUploadBytes,
        download: async (server, mediaId, maxBytes) => {
          const stream = await federation.client.stream({ method: 'GET', destination: server, path: `/_matrix/federation/v1/media/download/${encodeURIComponent(mediaId)}`, maxResponseBytes: maxBytes });
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
    // ---- federation (src/app/federation.ts: listener, keys, client; federation-rooms.ts: the event
    // pipeline). Assembled before the room API, which joins and invites through it; bound below.
    const federation = await assembleFederation({ config, log: log.child({ component: 'federation' }), db, keyring, clock });
    // Federation sockets share the descriptor limit with the client API and MQTT: one cap for all.
    this.connections.attach(federation.app.server);
    const roomDirectory = new RoomDirectory(db);
    // Local clients syncing: pull mode asks other servers more often then (docs/federation.md).
    const syncActivity = new SyncActivity();
    const federationRooms = new FederationRooms({
      engine,
      db,
      serverName,
      signingKey,
      requests: withRequestLog(federation.client, log.child({ component: 'federation-out' })),
      streams: withStreamLog(federation.client, log.child({ component: 'federation-out' })),
      keys: federation.keys,
      userExists: async (userId) => {
        const user = await accounts.getUser(userId);
        return user !== undefined && !user.deactivated;
      },
      directory: roomDirectory,
      log: log.child({ component: 'federation' }),
      pullIntervalMs: config.federation.pullIntervalSeconds * 1000,
      pullIntervalActiveMs: config.federation.pullIntervalActiveSeconds * 1000,
      clientActive: () => syncActivity.isActive(),
      clock,
    });
    // Set again: every destination that backed off meanwhile is retried now, not at its next backoff.
    const stopClockRetry = clock.onChange((sane) => {
      if (sane) federationRooms.sender.retryAll();
    });
    this.closables.push({ name: 'clock-retry', close: async () => void stopClockRetry() });
    federationRooms.registerRoutes(federation.app, (req) => federation.auth.requireServer(req));
    registerFederationMediaRoutes(federation.app, { originOf: (req) => federation.auth.requireServer(req), media });
    federation.onServerContact((origin) => federationRooms.onServerContact(origin));
    const federationAliases = new RoomDirectory(db);
    registerFederationQueryRoutes(federation.app, {
      serverName,
      requireServer: (req) => federation.auth.requireServer(req),
      profileOf: async (userId) => {
        const user = await accounts.getUser(userId);
        return user && !user.deactivated ? profileOf(userId) : undefined;
      },
      resolveAlias: (alias) =>
        resolveAliasForServers({ serverName, aliasTarget: (a) => federationAliases.aliasTarget(a), currentState: (roomId) => engine.currentState(roomId) }, alias),
    });

    // EDUs and end-to-end encryption across servers: typing, receipts, presence, device lists and
    // to-device both ways, other servers' users' keys for /keys/query and /keys/claim, and the
    // user/devices and user/keys routes (src/federation/edus/federation-edus.ts).
    const federationEdus = await assembleFederationEdus({
      serverName,
      db,
      engine,
      transactions: federationRooms.transactions,
      sender: federationRooms.sender,
      requests: withRequestLog(federation.client, log.child({ component: 'federation-out' })),
      typing,
      receipts,
      presence,
      toDevice,
      e2ee,
      deviceDisplayName: async (userId, deviceId) => (await accounts.listDevices(userId)).find((d) => d.deviceId === deviceId)?.displayName,
      log: log.child({ component: 'federation-edus' }),
    });
    federationEdus.registerRoutes(federation.app, (req) => federation.auth.requireServer(req));
    this.closables.push({ name: 'federation-edus', close: () => federationEdus.stop() });

    const roomApi = buildRoomApi(app, {
      federation: federationRooms.membership,
      defaultRoomVersion: config.defaultRoomVersion,
      ...(limits ? { limitSend: (userId: string) => limits.takeMessage(userId) } : {}),
      longPolls: new LongPollGate(config.sync),
      syncActivity,
      engine,
      directory: roomDirectory,
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
        presenceSince: (userId, since, to) => presence.eventsFor(userId, since, to),
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

    // ---- sensors: telemetry, MQTT logins, the broker and the bridge (src/app/sensors.ts)
    const sensors = await assembleSensors({
      config,
      log,
      db,
      engine,
      accounts,
      createRoomDeps: roomApi.createRoomDeps,
      app,
      requireUser: (req) => auth.requireUser(req),
      admitConnection: (socket) => this.connections.admit(socket),
      onClose: (name, close) => this.closables.push({ name, close }),
    });
    this.broker = sensors.broker;
    const { registry, bridge } = sensors;

    // ---- listeners
    try {
      await app.listen({ host: config.client.bindAddress, port: config.client.port });
    } catch (err) {
      const { bindAddress: host, port } = config.client;
      throw describeListenError(err, { what: 'the Client-Server API', host, port, setting: 'client.port', env: 'HEARTH_CLIENT_PORT' });
    }
    this.closables.push({ name: 'http', close: () => app.close() });
    await federation.listen();
    this.closables.push({ name: 'federation-http', close: () => federation.close() });
    // After the listener: the announcement makes peers send to us at once (docs/federation.md "Offline").
    void federationRooms.start();
    this.closables.push({ name: 'federation-sender', close: () => federationRooms.stop() });
    if (this.broker) {
      const detach = this.broker.attachWebSocket(app.server, config.mqtt.websocketPath);
      this.closables.push({ name: 'mqtt-websocket', close: async () => detach() });
    }

    // ---- the admin socket (the CLI's way in while LevelDB is held by this process)
    const admin = await startAdminSocket(adminSocketPath(config.dataDir), {
      ...userAdminHandlers(accounts),
      // `hearth federation status` (cli/federation.ts).
      'federation.status': async () => ({
        clock: clock.status(),
        destinations: federationRooms.sender.status(),
        catchUp: federationRooms.catchUp.stats,
        pullRounds: federationRooms.pullSchedule.rounds,
      }),
      ...deviceAdminHandlers(registry, {
        onRemoved: (name) => {
          this.broker?.disconnectDevice(name);
          bridge.releaseOwner(`device:${name}`).catch((err: unknown) => log.warn({ err, device: name }, 'releasing the devices of a removed login failed'));
        },
      }),
    });
    this.closables.push({ name: 'admin-socket', close: () => admin.close() });

    // ---- memory: give the heap of a burst back once idle (idle-heap-trim.ts)
    const heapLog = log.child({ component: 'memory' });
    const trim = startIdleHeapTrim({
      onTrim: ({ beforeBytes, afterBytes, ms }) => heapLog.debug({ beforeBytes, afterBytes, ms: Math.round(ms) }, 'idle heap trimmed'),
      onYoungShrink: ({ beforeBytes, afterBytes }) => heapLog.debug({ beforeBytes, afterBytes }, 'idle young generation scavenged'),
    });
    if (!trim.active) heapLog.debug('no --expose-gc: the idle heap trim is off');
    this.closables.push({ name: 'idle-heap-trim', close: async () => trim.stop() });
    log.info({ url: this.clientUrl, serverName }, 'gateway started');
  }

  /** Stops everything in reverse start order; each step runs even if an earlier one failed. */
  async stop(): Promise<void> {
    while (this.closables.length > 0) {
      const c = this.closables.pop()!;
      try {
        this.log.debug({ component: c.name }, 'stopping');
        await c.close();
      } catch (err) {
        this.log.error({ err, component: c.name }, 'error while stopping');
      }
    }
  }
}
