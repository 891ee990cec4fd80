/**
 * EDUs about local users, to the servers that need them (server-server "EDUs"):
 *
 *  - `m.typing` and `m.receipt` (public `m.read` only) to the other servers in the room;
 *  - `m.presence` (when enabled) to every server sharing a room with the user;
 *  - `m.device_list_update` (with `stream_id` and `prev_id`) and `m.signing_key_update` to every
 *    server sharing a room with the user ("Device Management": "servers ... that share a room");
 *  - `m.direct_to_device` to the servers of the recipients, one EDU per server with a fresh
 *    `message_id` ("Send-to-device messaging").
 *
 * Servers of a room come from `FederationSender.serversInRoom`, which is empty for a room created
 * with `m.federate: false` and filters by the room's server ACL: nothing of a sensor room leaves.
 * Everything here is best effort and never fails the local action that caused it.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { ReceiptWritten } from '../../accounts/receipts.js';
import type { ToDeviceMessages } from '../../accounts/to-device.js';
import { serverNameOf } from '../../core/identifiers.js';
import type { JsonObject } from '../../core/types.js';
import type { DeviceListChange } from '../../e2ee/device-lists.js';
import type { E2eeService } from '../../e2ee/service.js';
import type { PresenceContent } from '../../presence/presence.js';
import { KeyedLock } from '../../util/keyed-lock.js';
import type { FederationSender } from '../send/sender.js';

export interface OutgoingEduDeps {
  serverName: string;
  sender: Pick<FederationSender, 'sendEdu' | 'serversInRoom'>;
  /** The rooms a local user is joined to now. */
  joinedRoomsOf(userId: string): Promise<string[]>;
  e2ee: Pick<E2eeService, 'publishedDeviceKeys' | 'publicCrossSigningKeys'>;
  /** A local device's display name (undefined when it has none or is gone). */
  deviceDisplayName(userId: string, deviceId: string): Promise<string | undefined>;
  log: Logger;
}

export class OutgoingEdus {
  /** A room's EDUs are queued in the order they happened (a typing stop never overtakes its start). */
  private readonly roomOrder = new KeyedLock();

  constructor(private readonly deps: OutgoingEduDeps) {}

  private isLocal(userId: string): boolean {
    return serverNameOf(userId) === this.deps.serverName;
  }

  /** A local user started, renewed or stopped typing. */
  typing(roomId: string, userId: string, typing: boolean): void {
    if (!this.isLocal(userId)) return;
    this.toRoom(roomId, { edu_type: 'm.typing', content: { room_id: roomId, user_id: userId, typing } });
  }

  /** A receipt was written; only local users' public `m.read` receipts travel. */
  receipt(r: ReceiptWritten): void {
    if (!this.isLocal(r.userId) || r.receiptType !== 'm.read') return;
    const data: JsonObject = r.threadId === undefined ? { ts: r.ts } : { ts: r.ts, thread_id: r.threadId };
    const content = { [r.roomId]: { 'm.read': { [r.userId]: { event_ids: [r.eventId], data } } } };
    this.toRoom(r.roomId, { edu_type: 'm.receipt', content });
  }

  /** A local user's presence changed. */
  presence(userId: string, content: PresenceContent): void {
    if (!this.isLocal(userId)) return;
    const push: JsonObject = { user_id: userId, presence: content.presence };
    if (content.last_active_ago !== undefined) push.last_active_ago = content.last_active_ago;
    if (content.currently_active !== undefined) push.currently_active = content.currently_active;
    if (content.status_msg !== undefined) push.status_msg = content.status_msg;
    void this.toSharingServers(userId, { edu_type: 'm.presence', content: { push: [push] } });
  }

  /** A device list change was written: a local user's device or public cross-signing keys go out. */
  deviceListChange(change: DeviceListChange): void {
    if (!this.isLocal(change.userId)) return;
    void this.announceDeviceListChange(change).catch((err: Error) =>
      this.deps.log.warn({ userId: change.userId, err: err.message }, 'could not announce a device list change'),
    );
  }

  /** To-device messages for users of other servers: one EDU per server. */
  toDevice(sender: string, type: string, messages: ToDeviceMessages): void {
    const byServer = new Map<string, ToDeviceMessages>();
    for (const [userId, byDevice] of Object.entries(messages)) {
      const server = serverNameOf(userId);
      if (!server || server === this.deps.serverName) continue;
      const forServer = byServer.get(server) ?? {};
      forServer[userId] = byDevice;
      byServer.set(server, forServer);
    }
    for (const [server, forServer] of byServer) {
      const content = { sender, type, message_id: randomBytes(12).toString('base64url'), messages: forServer };
      this.deps.sender.sendEdu(server, { edu_type: 'm.direct_to_device', content: content as unknown as JsonObject });
    }
  }

  private async announceDeviceListChange(change: DeviceListChange): Promise<void> {
    const { userId, cause } = change;
    if (cause.kind === 'device') {
      const content: JsonObject = {
        user_id: userId,
        device_id: cause.deviceId,
        stream_id: change.streamId,
        prev_id: change.prevStreamId === undefined ? [] : [change.prevStreamId],
      };
      if (cause.deleted) content.deleted = true;
      else {
        const keys = await this.deps.e2ee.publishedDeviceKeys(userId, cause.deviceId);
        if (keys) content.keys = keys;
        const name = await this.deps.deviceDisplayName(userId, cause.deviceId);
        if (name !== undefined) content.device_display_name = name;
      }
      await this.toSharingServers(userId, { edu_type: 'm.device_list_update', content });
    } else if (cause.kind === 'cross_signing') {
      const keys = await this.deps.e2ee.publicCrossSigningKeys(userId);
      const content: JsonObject = { user_id: userId };
      if (keys.master) content.master_key = keys.master;
      if (keys.selfSigning) content.self_signing_key = keys.selfSigning;
      await this.toSharingServers(userId, { edu_type: 'm.signing_key_update', content });
    }
  }

  private toRoom(roomId: string, edu: { edu_type: string; content: JsonObject }): void {
    void this.roomOrder
      .run(roomId, async () => {
        for (const server of await this.deps.sender.serversInRoom(roomId)) this.deps.sender.sendEdu(server, edu);
      })
      .catch((err: Error) => this.deps.log.warn({ roomId, type: edu.edu_type, err: err.message }, 'could not queue an EDU'));
  }

  /** Every server with a joined member in one of the user's joined rooms (federated rooms only). */
  async serversSharingRoomWith(userId: string): Promise<Set<string>> {
    const servers = new Set<string>();
    for (const roomId of await this.deps.joinedRoomsOf(userId)) {
      for (const server of await this.deps.sender.serversInRoom(roomId)) servers.add(server);
    }
    return servers;
  }

  private async toSharingServers(userId: string, edu: { edu_type: string; content: JsonObject }): Promise<void> {
    try {
      for (const server of await this.serversSharingRoomWith(userId)) this.deps.sender.sendEdu(server, edu);
    } catch (err) {
      this.deps.log.warn({ userId, type: edu.edu_type, err: (err as Error).message }, 'could not queue an EDU');
    }
  }
}
