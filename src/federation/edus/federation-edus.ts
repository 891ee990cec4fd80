/**
 * EDUs and end-to-end encryption across servers, assembled (server-server "EDUs", "Device
 * Management", "End-to-End Encryption", "Send-to-device messaging"): the incoming EDU handlers on
 * the transaction receiver, the outgoing EDUs fed by the local services' listeners, the remote
 * device list cache and the remote key directory behind `/keys/query` and `/keys/claim`, and the
 * federation routes answering for local users' devices and keys.
 *
 * Gateway wiring: `const edus = await assembleFederationEdus({...})` once the federation pipeline
 * (transactions, sender, requests) and the local services exist, then
 * `edus.registerRoutes(federationApp, originOf)` before the federation listener binds, and
 * `await edus.stop()` at shutdown, before the database closes.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { ReceiptService } from '../../accounts/receipts.js';
import type { ToDeviceService } from '../../accounts/to-device.js';
import type { TypingManager } from '../../accounts/typing.js';
import type { E2eeService } from '../../e2ee/service.js';
import type { PresenceService } from '../../presence/presence.js';
import type { RoomEngine } from '../../rooms/engine.js';
import type { Database } from '../../storage/db.js';
import { RemoteDeviceLists } from '../e2ee/remote-device-lists.js';
import { RemoteDeviceStore } from '../e2ee/remote-device-store.js';
import { RemoteKeyQueries } from '../e2ee/remote-key-queries.js';
import { registerUserKeyRoutes } from '../e2ee/user-key-routes.js';
import type { TransactionReceiver } from '../receive/transactions.js';
import type { FederationRequests } from '../requests.js';
import type { FederationSender } from '../send/sender.js';
import { incomingEduHandlers } from './incoming.js';
import { OutgoingEdus } from './outgoing.js';

export interface FederationEdusDeps {
  serverName: string;
  db: Database;
  engine: Pick<RoomEngine, 'isJoined' | 'roomsOf'>;
  transactions: Pick<TransactionReceiver, 'onEdu'>;
  sender: Pick<FederationSender, 'sendEdu' | 'serversInRoom'>;
  requests: FederationRequests;
  typing: TypingManager;
  receipts: ReceiptService;
  /** Undefined when presence is disabled: no `m.presence` goes out or is taken in. */
  presence: PresenceService | undefined;
  toDevice: ToDeviceService;
  e2ee: E2eeService;
  /** A local device's display name (accounts), for `m.device_list_update`. */
  deviceDisplayName(userId: string, deviceId: string): Promise<string | undefined>;
  /** Users of other servers whose device lists are cached at most (default 5,000). */
  maxCachedDeviceLists?: number;
  log: Logger;
}

export interface FederationEdus {
  readonly deviceLists: RemoteDeviceLists;
  readonly outgoing: OutgoingEdus;
  /** The user/devices, user/keys/query and user/keys/claim routes on the federation listener. */
  registerRoutes(app: FastifyInstance, originOf: (request: FastifyRequest) => Promise<string>): void;
  /** Stops listening and resolves once running resyncs have ended (before the database closes). */
  stop(): Promise<void>;
}

export async function assembleFederationEdus(deps: FederationEdusDeps): Promise<FederationEdus> {
  const { engine, log } = deps;
  const store = new RemoteDeviceStore(deps.db, deps.maxCachedDeviceLists);
  await store.open();
  const joinedRoomsOf = async (userId: string) =>
    (await engine.roomsOf(userId)).filter((m) => m.membership === 'join').map((m) => m.roomId);
  const sharesRoom = async (userId: string) => (await joinedRoomsOf(userId)).length > 0;

  const deviceLists = new RemoteDeviceLists({
    db: deps.db,
    store,
    requests: deps.requests,
    writeChange: (ops, userId) => deps.e2ee.writeRemoteDeviceListChange(ops, userId),
    sharesRoom,
    log,
  });

  // Incoming.
  const handlers = incomingEduHandlers({
    typing: deps.typing,
    receipts: deps.receipts,
    presence: deps.presence,
    toDevice: deps.toDevice,
    deviceLists,
    isJoined: (userId, roomId) => engine.isJoined(userId, roomId),
    sharesRoom,
    log,
  });
  for (const [type, handler] of handlers) deps.transactions.onEdu(type, handler);

  // Outgoing.
  const outgoing = new OutgoingEdus({
    serverName: deps.serverName,
    sender: deps.sender,
    joinedRoomsOf,
    e2ee: deps.e2ee,
    deviceDisplayName: deps.deviceDisplayName,
    log,
  });
  const unsubscribe = [
    deps.typing.onChange((roomId, userId, typing) => outgoing.typing(roomId, userId, typing)),
    deps.receipts.onReceipt((receipt) => outgoing.receipt(receipt)),
    deps.e2ee.onDeviceListChange((change) => outgoing.deviceListChange(change)),
    ...(deps.presence ? [deps.presence.onChange((userId, content) => outgoing.presence(userId, content))] : []),
  ];
  deps.toDevice.sendRemoteThrough((sender, type, messages) => outgoing.toDevice(sender, type, messages));

  // Local clients' /keys/query and /keys/claim for other servers' users.
  deps.e2ee.attachRemoteKeys(
    new RemoteKeyQueries({
      requests: deps.requests,
      cachedList: (userId) => deviceLists.fresh(userId),
      // Worth caching only for users we share a room with (their updates then keep it fresh).
      warm: (userId) => void sharesRoom(userId).then((shares) => shares && deviceLists.scheduleResync(userId), () => undefined),
      log,
    }),
  );

  return {
    deviceLists,
    outgoing,
    registerRoutes(app, originOf) {
      registerUserKeyRoutes(app, { originOf, e2ee: deps.e2ee, serverName: deps.serverName });
    },
    async stop() {
      for (const off of unsubscribe) off();
      await deviceLists.stop();
    },
  };
}
