/**
 * The status page, assembled (docs/status-page.md): its data API and its files on the client port,
 * read from the running services. Assembled after the sensors (the bridge, the telemetry store, the
 * broker) and federation (its sender's per-destination status), before the listeners start.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { registerStatusRoutes } from '../api/client/status.js';
import { registerStatusPageRoutes } from '../api/client/status-page.js';
import type { DestinationStatus } from '../federation/send/sender.js';
import type { RoomEngine } from '../rooms/engine.js';
import { GatewayRates } from '../status/gateway-rates.js';
import { loadStatusPageAssets } from '../status/page-assets.js';
import type { LiveDevices } from '../status/live-devices.js';
import { processWriteBytes } from '../status/process-io.js';
import { StatusService } from '../status/status-service.js';
import type { SensorsSurface } from './sensors.js';
import { hearthVersion } from './version.js';

export interface StatusPageAssemblyDeps {
  app: FastifyInstance;
  requireUser(req: FastifyRequest): Promise<{ userId: string; isAdmin: boolean }>;
  serverName: string;
  dataDir: string;
  startedAt: number;
  engine: RoomEngine;
  live: LiveDevices;
  sensors: SensorsSurface;
  federation: { destinations(): DestinationStatus[]; streamHead(): number; clockSane(): boolean };
  onClose: (name: string, close: () => Promise<void>) => void;
}

export async function assembleStatusPage(deps: StatusPageAssemblyDeps): Promise<void> {
  const { engine, sensors } = deps;
  // Events persisted since the start (local and received), for the events-per-second rate.
  let events = 0;
  const stopCounting = engine.onEvent(() => void events++);
  deps.onClose('status-events', async () => void stopCounting());
  const rates = new GatewayRates({
    read: async () => {
      const writeBytes = await processWriteBytes();
      return {
        t: performance.now(),
        events,
        readings: sensors.bridge.stats.readings,
        mqttMessages: sensors.bridge.stats.messages,
        journalBytes: sensors.telemetry.journalBytesWritten,
        ...(writeBytes !== undefined ? { writeBytes } : {}),
      };
    },
  });
  await rates.start();
  const broker = sensors.broker;
  const status = new StatusService({
    serverName: deps.serverName,
    version: hearthVersion(),
    startedAt: deps.startedAt,
    dataDir: deps.dataDir,
    live: deps.live,
    bridge: sensors.bridge,
    stateContent: async (roomId, type, stateKey) => (await engine.stateEvent(roomId, type, stateKey))?.pdu.content as Record<string, unknown> | undefined,
    isJoined: (userId, roomId) => engine.isJoined(userId, roomId),
    telemetry: sensors.telemetry,
    rates,
    ...(broker ? { mqttClients: () => broker.clientCount } : {}),
    federation: deps.federation,
  });
  registerStatusRoutes(deps.app, { requireUser: deps.requireUser, status });
  registerStatusPageRoutes(deps.app, { load: loadStatusPageAssets });
}
