/**
 * The gateway: one process that assembles every service with constructor injection and owns their
 * lifecycle. Start order: storage -> core services (rooms, the clock, accounts, E2EE, push,
 * presence) -> federation (federation-services.ts) -> the Client-Server API
 * (client-api.ts) -> sensors (sensors.ts: telemetry, bridge, MQTT broker) -> metrics (metrics/,
 * when enabled) -> the status page (status.ts) -> listeners -> admin socket. Stop runs the other way, so buffered writes (telemetry, MQTT persistence) land before the
 * database closes.
 */
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { HearthConfig } from '../config/config.js';
import { Database } from '../storage/db.js';
import { lastStreamPosition } from '../stream/stream-position.js';
import { StreamNotifier } from '../stream/notifier.js';
import { RoomEngine } from '../rooms/engine.js';
import { AccountService } from '../accounts/accounts.js';
import { AccountDataService } from '../accounts/account-data.js';
import { FilterService } from '../accounts/filters.js';
import { PushRulesService } from '../accounts/push-rules.js';
import { ReceiptService } from '../accounts/receipts.js';
import { ToDeviceService } from '../accounts/to-device.js';
import { TypingManager } from '../accounts/typing.js';
import { E2eeService } from '../e2ee/service.js';
import { engineMembershipView } from '../e2ee/membership-view.js';
import { MediaStore } from '../media/store.js';
import { Thumbnailer } from '../media/thumbnailer.js';
import { NotificationCounts } from '../push/notification-counts.js';
import { PusherService } from '../push/pushers.js';
import { ignoredUsersLookup } from '../accounts/ignored-users.js';
import { PusherStore } from '../storage/pushers.js';
import { readReceiptsOf } from '../push/read-receipts.js';
import { PresenceService } from '../presence/presence.js';
import { joinedRoomsVia } from '../presence/joined-rooms.js';
import type { EmbeddedBroker } from '../mqtt/broker/embedded.js';
import { adminSocketPath, startAdminSocket } from '../admin/socket.js';
import { gatewayStatus } from '../admin/gateway-status.js';
import { hearthVersion } from './version.js';
import { userAdminHandlers } from '../cli/user.js';
import { deviceAdminHandlers } from '../cli/device.js';
import { backupAdminHandlers } from '../cli/backup.js';
import { exportAdminHandlers } from '../cli/export.js';
import { loadOrCreateKeyring } from '../federation/keys/key-files.js';
import { assembleFederationServices } from './federation-services.js';
import { assembleSensors } from './sensors.js';
import { assembleClientApi } from './client-api.js';
import { RoomDirectory } from '../rooms/room-directory.js';
import { startIdleHeapTrim } from './idle-heap-trim.js';
import { ConnectionGate, connectionBudget } from '../limits/connections.js';
import { ClockGuard } from '../federation/clock/clock-guard.js';
import { SyncActivity } from '../rooms/sync-activity.js';
import { effectiveFloor } from '../federation/clock/clock-sanity.js';
import { newestOwnEventTs } from '../federation/clock/recorded-time.js';
import { serverNameOf } from '../core/identifiers.js';
import { settleServerName } from './server-name.js';
import { MetricsAccess } from '../metrics/access.js';
import { registerMetricsRoute } from '../metrics/route.js';
import { LiveDevices } from '../status/live-devices.js';
import { assembleGatewayFigures, assembleStatusPage } from './status.js';

interface Closable {
  name: string;
  close(): Promise<void>;
}

export class Gateway {
  private readonly closables: Closable[] = [];
  private broker: EmbeddedBroker | undefined;
  private connections!: ConnectionGate;
  private accounts: AccountService | undefined;

  constructor(
    /** Replaced at start by the same configuration under the data directory's server name. */
    private config: HearthConfig,
    private readonly log: Logger,
  ) {}

  /** The server name the gateway runs under (settled against the data directory at start). */
  get serverName(): string {
    return this.config.serverName;
  }

  get clientUrl(): string {
    return `http://${this.config.client.bindAddress}:${this.config.client.port}`;
  }

  /** Whether anyone can log in yet: an active account of a person (devices do not count). */
  async hasPeople(): Promise<boolean> {
    const users = (await this.accounts?.listUsers()) ?? [];
    return users.some((u) => u.kind === 'user' && !u.deactivated);
  }

  /** The embedded broker's TCP port, or undefined in external-broker mode. */
  get mqttPort(): number | undefined {
    return this.broker?.port;
  }

  async start(): Promise<void> {
    const { log } = this;
    const startedAt = Date.now();

    // ---- storage and the core services
    const db = await Database.open(join(this.config.dataDir, 'db'), { ...this.config.storage, logger: log.child({ component: 'storage' }) });
    this.closables.push({ name: 'database', close: () => db.close() });
    // Everything below reads the name from the config: settle it there (the recorded name wins).
    const serverName = await settleServerName(db, this.config);
    const config: HearthConfig = Object.freeze({ ...this.config, serverName });
    this.config = config;
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

    // The two know each other: E2EE reads the account's devices; creating, renaming or deleting a
    // device is a device list change, and deleting one drops its keys.
    const e2ee: E2eeService = new E2eeService({
      db,
      notifier,
      serverName,
      memberships: engineMembershipView(engine),
      userDevices: async (userId) => (await accounts.listDevices(userId)).map((d) => ({ deviceId: d.deviceId, displayName: d.displayName })),
    });
    const accounts: AccountService = new AccountService(db, config, notifier, {
      onDeviceChanged: (userId, deviceId) => e2ee.onDeviceChanged(userId, deviceId),
      onDeviceDeleted: async (userId, deviceId) => {
        await e2ee.onDeviceDeleted(userId, deviceId);
        await pushers.removeDevice(userId, deviceId);
      },
    });
    this.accounts = accounts;
    // Every formatted event asks whether its sender was erased: read the (few) erased users now, not
    // in the first /sync after a start (a scan of every account).
    await accounts.erasedUsers();
    const pushRules = new PushRulesService(db, notifier);
    const accountData = new AccountDataService(db, notifier, pushRules);
    const filters = new FilterService(db);
    const ignoredUsersOf = ignoredUsersLookup(accountData);
    const receipts = new ReceiptService(db, notifier);
    const toDevice = new ToDeviceService(db, notifier, accounts);
    const typing = new TypingManager(notifier);
    this.closables.push({ name: 'typing', close: async () => typing.stop() });
    // Unread counts are kept with the events (docs/notifications.md); presence lives in memory.
    const notificationCounts = new NotificationCounts({
      engine,
      db,
      serverName,
      pushRulesFor: (userId) => pushRules.pushRulesFor(userId),
      onPushRulesChange: (listener) => pushRules.onChange(listener),
      readReceipts: async (userId, roomId) =>
        readReceiptsOf((await receipts.receiptsSince([roomId], 0, notifier.position, userId)).get(roomId) ?? {}, userId),
      ignoredUsersOf,
      log: log.child({ component: 'push' }),
    });
    await notificationCounts.start();
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

    // Shared by the client API and federation: the public room directory, a user's profile, media.
    const roomDirectory = new RoomDirectory(db);
    const profileOf = async (userId: string) => {
      const p = await accounts.getProfile(userId);
      const out: { displayname?: string; avatar_url?: string } = {};
      if (p?.displayname) out.displayname = p.displayname;
      if (p?.avatar_url) out.avatar_url = p.avatar_url;
      return out;
    };
    const media = new MediaStore(db, config.dataDir);
    const thumbnails = new Thumbnailer({
      dataDir: config.dataDir,
      originalPath: (mediaId) => media.filePath(mediaId),
      maxImagePixels: config.media.maxImagePixels,
      log: log.child({ component: 'thumbnails' }),
    });
    // Local clients syncing: pull mode asks other servers more often then (docs/federation.md).
    const syncActivity = new SyncActivity();

    // ---- metrics (docs/metrics.md): loaded only when enabled, so a gateway without them does not
    // carry prom-client. Persisted events and HTTP requests are counted from here on; the rest is
    // read from the services at scrape time (after sensors, below).
    const metrics = config.metrics.enabled ? new (await import('../metrics/gateway-metrics.js')).GatewayMetrics() : undefined;
    if (metrics) {
      const stopCounting = metrics.countEvents((listener) => engine.onEvent(listener), serverName);
      this.closables.push({ name: 'metrics-events', close: async () => void stopCounting() });
    }

    // ---- federation (src/app/federation-services.ts: the listener, keys and client, the event
    // pipeline, EDUs and E2EE across servers). Assembled before the client API, whose room API
    // joins and invites through it.
    const federation = await assembleFederationServices({
      config,
      log,
      db,
      keyring,
      clock,
      engine,
      accounts,
      directory: roomDirectory,
      profileOf,
      media,
      thumbnails,
      syncActivity,
      typing,
      receipts,
      presence,
      toDevice,
      e2ee,
    });
    // Federation sockets share the descriptor limit with the client API and MQTT: one cap for all.
    this.connections.attach(federation.surface.app.server);
    this.closables.push({ name: 'federation-services', close: () => federation.close() });

    // The status page's live device values (src/status/): fed by the bridge, answered on the client port.
    const live = new LiveDevices();

    // ---- the Client-Server API: the HTTP server, /health and every client route (src/app/client-api.ts)
    const clientApi = await assembleClientApi({
      config,
      log,
      db,
      engine,
      notifier,
      clock,
      accounts,
      accountData,
      filters,
      pushRules,
      receipts,
      toDevice,
      typing,
      e2ee,
      notificationCounts,
      pushers,
      presence,
      ignoredUsersOf,
      media,
      thumbnails,
      directory: roomDirectory,
      syncActivity,
      profileOf,
      federation: { membership: federation.rooms.membership, client: federation.surface.client },
      ...(metrics ? { instrument: (app: FastifyInstance) => metrics.instrument(app) } : {}),
      // Parked status-page long-polls answer when the server starts closing, as /sync's do.
      onClosing: () => live.close(),
    });
    this.connections.attach(clientApi.app.server);

    // ---- sensors: telemetry, MQTT logins, the broker and the bridge (src/app/sensors.ts)
    const sensors = await assembleSensors({
      config,
      log,
      db,
      engine,
      accounts,
      createRoomDeps: clientApi.roomApi.createRoomDeps,
      app: clientApi.app,
      requireUser: (req) => clientApi.auth.requireUser(req),
      admitConnection: (socket) => this.connections.admit(socket),
      onClose: (name, close) => this.closables.push({ name, close }),
      bridgeObserver: live,
    });
    this.broker = sensors.broker;
    const { registry, bridge } = sensors;

    // ---- metrics: the series read at scrape time, and GET /metrics on the client port
    if (metrics) {
      const broker = sensors.broker;
      metrics.watch({
        storageDir: join(config.dataDir, 'db'),
        sync: clientApi.roomApi.sync,
        mqtt: { stats: sensors.brokerStats, ...(broker ? { clientCount: () => broker.clientCount } : {}) },
        bridge,
        telemetry: sensors.telemetry,
        thumbnails,
        federation: { destinations: () => federation.rooms.sender.status(), streamHead: () => notifier.position },
      });
      registerMetricsRoute(clientApi.app, { access: new MetricsAccess(config.metrics.allow), render: () => metrics.render() });
    }

    // ---- the gateway's figures (status/gateway-figures.ts), read when asked: the status page's panel
    // and `hearth status`, `hearth doctor` (admin/gateway-status.ts) are views of one snapshot
    const figures = await assembleGatewayFigures({
      serverName,
      dataDir: config.dataDir,
      startedAt,
      engine,
      sensors,
      federation: {
        destinations: () => federation.rooms.sender.status(),
        streamHead: () => notifier.position,
        clock: () => clock.status(),
      },
      onClose: (name, close) => this.closables.push({ name, close }),
    });

    // ---- the status page at / on the client port (src/app/status.ts, docs/status-page.md)
    assembleStatusPage({
      app: clientApi.app,
      requireUser: (req) => clientApi.auth.requireUser(req),
      figures,
      engine,
      live,
      sensors,
    });

    // ---- the admin socket (the CLI's way in while LevelDB is held by this process)
    const ports = { client: config.client.port, federation: config.federation.port, mqtt: this.broker ? this.broker.port : null };
    const admin = await startAdminSocket(adminSocketPath(config.dataDir), {
      // `hearth status` and `hearth doctor` (cli/status.ts, cli/doctor.ts).
      'gateway.status': async () => gatewayStatus(await figures.snapshot(), ports),
      // `hearth user ...` (cli/user.ts); deactivation leaves rooms as /account/deactivate does.
      ...userAdminHandlers(accounts, { leaveAllRooms: (userId) => clientApi.roomApi.membership.leaveAll(userId) }),
      // `hearth federation status` (cli/federation.ts).
      'federation.status': async () => ({ clock: clock.status(), ...(await federation.status()) }),
      // `hearth backup` while running (cli/backup.ts).
      ...backupAdminHandlers({ dataDir: config.dataDir, db, telemetry: sensors.telemetry }),
      // `hearth export` while running (cli/export.ts).
      ...exportAdminHandlers(sensors.telemetry),
      ...deviceAdminHandlers(registry, {
        onRemoved: (name) => {
          this.broker?.disconnectDevice(name);
          bridge.releaseOwner(`device:${name}`).catch((err: unknown) => log.warn({ err, device: name }, 'releasing the devices of a removed login failed'));
        },
      }),
    });
    this.closables.push({ name: 'admin-socket', close: () => admin.close() });

    // ---- listeners, last: once the client port answers, everything behind it (the admin socket
    // included, which `hearth` commands and the tests use right after a start) is there.
    await clientApi.listen();
    // Its close answers parked /sync long-polls first, or it would wait for them (client-api.ts).
    this.closables.push({ name: 'http', close: () => clientApi.close() });
    await federation.surface.listen();
    this.closables.push({ name: 'federation-http', close: () => federation.surface.close() });
    // After the listener: the announcement makes peers send to us at once (docs/federation.md "Offline").
    void federation.rooms.start();
    this.closables.push({ name: 'federation-sender', close: () => federation.rooms.stop() });
    if (this.broker) {
      const detach = this.broker.attachWebSocket(clientApi.app.server, config.mqtt.websocketPath);
      this.closables.push({ name: 'mqtt-websocket', close: async () => detach() });
    }

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
