/**
 * The gateway's figures (status/gateway-figures.ts: what the status page's panel and `hearth status`
 * show) and the status page, assembled (docs/status-page.md): its data API and its files on the
 * client port, read from the running services. Assembled after the sensors (the bridge, the
 * telemetry store, the broker) and federation (its sender's per-destination status), before the
 * admin socket and the listeners start.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { registerStatusRoutes } from '../api/client/status.js';
import { registerStatusPageRoutes } from '../api/client/status-page.js';
import type { ClockStatus } from '../federation/clock/clock-guard.js';
import type { DestinationStatus } from '../federation/send/sender.js';
import type { RoomEngine } from '../rooms/engine.js';
import { GatewayFigures } from '../status/gateway-figures.js';
import { loadStatusPageAssets } from '../status/page-assets.js';
import type { LiveDevices } from '../status/live-devices.js';
import { StatusService } from '../status/status-service.js';
import type { SensorsSurface } from './sensors.js';
import { hearthVersion } from './version.js';

export interface GatewayFiguresAssemblyDeps {
  serverName: string;
  dataDir: string;
  startedAt: number;
  engine: RoomEngine;
  sensors: SensorsSurface;
  federation: { destinations(): DestinationStatus[]; streamHead(): number; clock(): ClockStatus };
  onClose: (name: string, close: () => Promise<void>) => void;
}

/** The one collector of the gateway's figures; its first sample is the counters at the start. */
export async function assembleGatewayFigures(deps: GatewayFiguresAssemblyDeps): Promise<GatewayFigures> {
  const { engine, sensors } = deps;
  // Events persisted since the start (local and received), for the events-per-second rate.
  let events = 0;
  const stopCounting = engine.onEvent(() => void events++);
  deps.onClose('status-events', async () => void stopCounting());
  const broker = sensors.broker;
  const figures = new GatewayFigures({
    serverName: deps.serverName,
    version: hearthVersion(),
    startedAt: deps.startedAt,
    dataDir: deps.dataDir,
    counters: () => ({
      events,
      readings: sensors.bridge.stats.readings,
      mqttMessages: sensors.bridge.stats.messages,
      journalBytes: sensors.telemetry.journalBytesWritten,
    }),
    ...(broker ? { mqttClients: () => broker.clientCount } : {}),
    clock: deps.federation.clock,
    destinations: deps.federation.destinations,
    streamHead: deps.federation.streamHead,
  });
  await figures.start();
  // Its last sample goes to the write history file (docs/storage.md).
  deps.onClose('gateway-figures', async () => figures.stop());
  return figures;
}

export interface StatusPageAssemblyDeps {
  app: FastifyInstance;
  requireUser(req: FastifyRequest): Promise<{ userId: string; isAdmin: boolean }>;
  figures: GatewayFigures;
  engine: RoomEngine;
  live: LiveDevices;
  sensors: SensorsSurface;
}

export function assembleStatusPage(deps: StatusPageAssemblyDeps): void {
  const { engine, sensors } = deps;
  const status = new StatusService({
    figures: deps.figures,
    live: deps.live,
    bridge: sensors.bridge,
    stateContent: async (roomId, type, stateKey) => (await engine.stateEvent(roomId, type, stateKey))?.pdu.content as Record<string, unknown> | undefined,
    isJoined: (userId, roomId) => engine.isJoined(userId, roomId),
    telemetry: sensors.telemetry,
  });
  registerStatusRoutes(deps.app, { requireUser: deps.requireUser, status });
  registerStatusPageRoutes(deps.app, { load: loadStatusPageAssets });
}
