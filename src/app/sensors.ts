/**
 * The sensor surface, assembled: reading history (telemetry), MQTT logins (the device registry),
 * the broker (embedded aedes, or an external broker as a client) and the bridge that turns devices
 * into rooms. One of the gateway's three assemblers, beside the Client-Server API (client-api.ts,
 * with room-api.ts and account-api.ts) and federation (federation.ts, federation-rooms.ts); the flow
 * of a reading through it is drawn in docs/architecture.md.
 */
import { join } from 'node:path';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import type { AccountService } from '../accounts/accounts.js';
import type { HearthConfig } from '../config/config.js';
import type { JsonObject } from '../core/types.js';
import { registerTelemetryRoutes } from '../api/client/telemetry.js';
import { ConnectRateLimits } from '../limits/client-limits.js';
import { MqttBridge, type BridgeObserver } from '../mqtt/bridge/bridge.js';
import type { BridgeRoomPort } from '../mqtt/bridge/room-port.js';
import { EmbeddedBroker } from '../mqtt/broker/embedded.js';
import { createDefaultAclPolicy, deviceMayReceiveCommands } from '../mqtt/identity/acl.js';
import { createAuthenticator as createMqttAuthenticator } from '../mqtt/identity/authenticate.js';
import { deviceUserEnsurer } from '../mqtt/identity/matrix-user.js';
import { DeviceRegistry } from '../mqtt/identity/registry.js';
import type { MqttTransport } from '../mqtt/transport.js';
import type { BrokerStats } from '../mqtt/broker/stats.js';
import { ReadingVerifier } from '../mqtt/signing/verifier.js';
import { createRoom, type CreateRoomDeps } from '../rooms/create-room.js';
import type { RoomEngine } from '../rooms/engine.js';
import type { Database } from '../storage/db.js';
import { TelemetryStore } from '../telemetry/store.js';
import { describeListenError } from './listen-error.js';

export interface SensorsDeps {
  config: HearthConfig;
  log: Logger;
  db: Database;
  engine: RoomEngine;
  accounts: AccountService;
  /** How device rooms are created: the same path as a client's createRoom. */
  createRoomDeps: CreateRoomDeps;
  /** The Client-Server listener: the reading-history endpoint goes on it. */
  app: FastifyInstance;
  requireUser: (req: FastifyRequest) => Promise<{ userId: string; deviceId: string }>;
  /** Admits a new connection under the gateway's connection cap. */
  admitConnection: (socket: Socket) => boolean;
  /** Registers a shutdown step (run in reverse order). */
  onClose: (name: string, close: () => Promise<void>) => void;
  /** Told of readings and device changes as the bridge sees them (the status page's live values). */
  bridgeObserver?: BridgeObserver;
}

export interface SensorsSurface {
  registry: DeviceRegistry;
  bridge: MqttBridge;
  /** The embedded broker, when it runs in-process (absent in external mode). */
  broker?: EmbeddedBroker;
  telemetry: TelemetryStore;
  /** The broker side's counters, in either mode (read by /metrics). */
  brokerStats(): BrokerStats;
}

export async function assembleSensors(deps: SensorsDeps): Promise<SensorsSurface> {
  const { config, log, db, engine, accounts } = deps;
  const telemetry = await TelemetryStore.open(db, {
    ...config.telemetry,
    journalPath: join(config.dataDir, 'telemetry.journal'),
    logger: log.child({ component: 'telemetry' }),
  });
  telemetry.start();
  deps.onClose('telemetry', () => telemetry.stop());
  const ensureMatrixUser = deviceUserEnsurer(accounts);
  const registry = await DeviceRegistry.open({ db, ensureMatrixUser });
  const roomPort: BridgeRoomPort = {
    createRoom: async (req) => {
      const { roomId } = await createRoom(deps.createRoomDeps, {
        creator: req.creator,
        name: req.name,
        topic: req.topic,
        invite: req.invite,
        preset: req.preset,
        initialState: req.initialState as { type: string; state_key?: string; content: JsonObject }[] | undefined,
        creationContent: req.creationContent as JsonObject | undefined,
        powerLevelContentOverride: req.powerLevelContentOverride as JsonObject | undefined,
      });
      return { roomId };
    },
    sendEvent: (roomId, draft, opts) =>
      engine.sendEvent(roomId, { type: draft.type, sender: draft.sender, content: draft.content as JsonObject, state_key: draft.state_key }, opts),
    getStateEvent: (roomId, type, key) => engine.stateEvent(roomId, type, key),
    onEvent: (listener) => engine.onEvent(listener),
    getUserPowerLevel: (roomId, userId) => engine.getUserPowerLevel(roomId, userId),
    isJoined: (userId, roomId) => engine.isJoined(userId, roomId),
  };
  // The broker asks the bridge (created next) whether a Matrix user may publish a command.
  let bridgeRef: MqttBridge | undefined;
  const { transport, broker } = await createTransport(deps, registry, (userId, topic) => bridgeRef?.mayCommand(userId, topic) ?? Promise.resolve(false));
  const bridge = new MqttBridge({
    mayReceiveCommands: (publisher, topic) => !publisher.startsWith('device:') || deviceMayReceiveCommands(publisher.slice('device:'.length), topic),
    db,
    rooms: roomPort,
    identity: {
      ensureDeviceUser: ensureMatrixUser,
      owners: async () => (config.bridge.owners.length > 0 ? config.bridge.owners : accounts.listAdmins()),
    },
    transport,
    telemetry,
    config: config.bridge,
    logger: log.child({ component: 'bridge' }),
    ...(deps.bridgeObserver ? { observer: deps.bridgeObserver } : {}),
  });
  bridgeRef = bridge;
  await bridge.start();
  deps.onClose('bridge', () => bridge.stop());
  registerTelemetryRoutes(deps.app, {
    requireUser: deps.requireUser,
    isJoined: (userId, roomId) => engine.isJoined(userId, roomId),
    resolveStream: (roomId, sensor) => bridge.resolveStream(roomId, sensor),
    query: (stream, from, to, resolution) => telemetry.query(stream, from, to, resolution),
  });
  transport.setInboundHandler(bridge.handleInbound);
  try {
    await transport.start();
  } catch (err) {
    if (!broker) throw err;
    const { bindAddress: host, port } = config.mqtt;
    throw describeListenError(err, { what: 'the MQTT broker', host, port, setting: 'mqtt.port', env: 'HEARTH_MQTT_PORT' });
  }
  deps.onClose('mqtt', () => transport.stop());
  return { registry, bridge, telemetry, brokerStats: () => transport.stats(), ...(broker ? { broker } : {}) };
}

/** The embedded broker, or (mqtt.mode: external) a client of another broker. */
async function createTransport(
  deps: SensorsDeps,
  registry: DeviceRegistry,
  authorizeUserCommand: (userId: string, topic: string) => Promise<boolean>,
): Promise<{ transport: MqttTransport & { stats(): BrokerStats }; broker?: EmbeddedBroker }> {
  const { config, log, db, accounts } = deps;
  const logger = log.child({ component: 'mqtt' });
  if (config.mqtt.mode === 'external') {
    // Loaded only in this mode: the MQTT client library costs memory the embedded mode never uses.
    const { ExternalBroker } = await import('../mqtt/broker/external.js');
    return {
      transport: new ExternalBroker({
        url: config.mqtt.externalUrl,
        username: config.mqtt.externalUsername || undefined,
        password: config.mqtt.externalPassword || undefined,
        clientId: `hearth-${config.serverName.replace(/[^A-Za-z0-9_-]/g, '_')}`,
        maxPayloadBytes: config.mqtt.maxPayloadBytes,
        logger,
      }),
    };
  }
  const broker = new EmbeddedBroker({
    mqtt: config.mqtt,
    db,
    logger,
    authenticate: createMqttAuthenticator({
      verifyDevice: (username, password) => registry.verify(username, password),
      authenticateAccessToken: async (token) => {
        const requester = await accounts.authenticateToken(token);
        return requester ? { userId: requester.userId } : undefined;
      },
      allowAnonymous: config.mqtt.allowAnonymous,
    }),
    acl: createDefaultAclPolicy(),
    authorizeUserCommand,
    ...(config.rateLimits.enabled ? { connectLimits: new ConnectRateLimits(config.rateLimits.rcMqttConnect) } : {}),
    admitConnection: (socket) => deps.admitConnection(socket),
    signatures: await ReadingVerifier.open({
      db,
      keys: registry,
      trustOnFirstUse: config.mqtt.signing.trustOnFirstUse,
      onError: (err) => logger.warn({ err }, 'writing signature counters failed'),
    }),
  });
  return { transport: broker, broker };
}
