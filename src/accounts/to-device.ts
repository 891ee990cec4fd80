/**
 * Send-to-device messaging (modules/send_to_device.md): messages queued per recipient device,
 * delivered by `/sync` and deleted once the client acknowledges them by syncing with a later
 * `since` ("Server behaviour").
 *
 * Delivery is capped per sync. So that acknowledging a token never deletes messages that token's
 * response did not carry, each device remembers, for its last few tokens, the last message actually
 * delivered; pending messages are read from the oldest undeleted one, whatever the `since`.
 */
import { compositeKey, type JsonObject } from '../core/types.js';
import type { StreamNotifier } from '../stream/notifier.js';
import type { BatchOp, Database } from '../storage/db.js';
import { LruCache } from '../storage/lru.js';
import { ToDeviceStore } from '../storage/to-device.js';
import type { AccountService } from './accounts.js';

export interface ToDeviceEvent {
  type: string;
  sender: string;
  content: JsonObject;
}

/** `messages` of PUT /sendToDevice: user id -> device id or `*` -> content. */
export type ToDeviceMessages = Record<string, Record<string, JsonObject>>;

/**
 * Messages for users of other servers (federation's `m.direct_to_device`): called once per
 * accepted send with the remote recipients only.
 */
export type RemoteToDeviceSink = (sender: string, type: string, messages: ToDeviceMessages) => void;

/** Devices one message from another server may reach (`*` expanded): a stranger cannot fill the store. */
const MAX_REMOTE_DELIVERIES = 1000;

/** Per sync response; Synapse uses the same figure. */
const DELIVERY_LIMIT = 100;
/** Recent send transactions remembered for idempotency (client-server-api "Transaction identifiers"). */
const TXN_CACHE_SIZE = 4096;
/** Sync tokens remembered per device: enough for a client that retries a request or two. */
const TOKENS_PER_DEVICE = 4;

export class ToDeviceService {
  private readonly store: ToDeviceStore;
  private readonly seenTxns = new LruCache<string, true>(TXN_CACHE_SIZE);
  /** `user ‖ device` -> [sync token position, last delivered position] of recent responses. */
  private readonly deliveries = new Map<string, Array<[token: number, deliveredUpTo: number]>>();
  private remoteSink: RemoteToDeviceSink | undefined;

  constructor(
    private readonly db: Database,
    private readonly notifier: StreamNotifier,
    private readonly accounts: Pick<AccountService, 'listDevices' | 'isLocal'>,
  ) {
    this.store = new ToDeviceStore(db);
  }

  /**
   * PUT /sendToDevice/{eventType}/{txnId}:
   * 1. A repeated transaction of the same device is acknowledged without resending.
   * 2. `*` expands to every device of a local user; a device named explicitly takes precedence.
   * 3. All messages are written in one batch at one stream position.
   * 4. Recipients on other servers go to federation (`sendRemoteThrough`), or are skipped without it.
   */
  async send(sender: { userId: string; deviceId: string }, type: string, txnId: string, messages: ToDeviceMessages): Promise<void> {
    // 1.
    // Scoped per device and endpoint (client-server "Transaction identifiers"): the event type is in the path.
    const txnKey = compositeKey(sender.userId, sender.deviceId, type, txnId);
    if (this.seenTxns.get(txnKey)) return;
    // 2.
    const remote: ToDeviceMessages = {};
    const local: ToDeviceMessages = {};
    for (const [userId, byDevice] of Object.entries(messages)) {
      if (this.accounts.isLocal(userId)) local[userId] = byDevice;
      else remote[userId] = byDevice;
    }
    // 3.
    await this.deliverLocally(sender.userId, type, local, Infinity, false);
    // 4.
    if (this.remoteSink && Object.keys(remote).length > 0) this.remoteSink(sender.userId, type, remote);
    this.seenTxns.set(txnKey, true);
  }

  /** Federation: messages for users of other servers go to `sink` from now on. */
  sendRemoteThrough(sink: RemoteToDeviceSink): void {
    this.remoteSink = sink;
  }

  /**
   * Messages another server sent (`m.direct_to_device`), already checked and deduplicated by
   * federation: delivered to the local recipients (`*` expanded) like local ones, in one batch, at
   * most MAX_REMOTE_DELIVERIES devices. Returns how many devices were reached.
   */
  deliverFromRemote(sender: string, type: string, messages: ToDeviceMessages): Promise<number> {
    const local: ToDeviceMessages = {};
    for (const [userId, byDevice] of Object.entries(messages)) if (this.accounts.isLocal(userId)) local[userId] = byDevice;
    // Only devices that exist: nothing is kept for device ids a stranger makes up.
    return this.deliverLocally(sender, type, local, MAX_REMOTE_DELIVERIES, true);
  }

  private async deliverLocally(sender: string, type: string, messages: ToDeviceMessages, limit: number, existingOnly: boolean): Promise<number> {
    const deliveries: Array<{ userId: string; deviceId: string; content: JsonObject }> = [];
    for (const [userId, byDevice] of Object.entries(messages)) {
      const explicit = new Set(Object.keys(byDevice).filter((d) => d !== '*'));
      const wildcard = byDevice['*'];
      const devices = wildcard !== undefined || existingOnly ? (await this.accounts.listDevices(userId)).map((d) => d.deviceId) : [];
      const existing = new Set(devices);
      for (const deviceId of explicit) if (!existingOnly || existing.has(deviceId)) deliveries.push({ userId, deviceId, content: byDevice[deviceId]! });
      if (wildcard !== undefined) {
        for (const deviceId of devices) if (!explicit.has(deviceId)) deliveries.push({ userId, deviceId, content: wildcard });
      }
      if (deliveries.length >= limit) break;
    }
    if (deliveries.length > limit) deliveries.length = limit;
    if (deliveries.length === 0) return 0;
    const position = this.notifier.reserve();
    try {
      const ops: BatchOp[] = [];
      for (const d of deliveries) this.store.putTxn(ops, d.userId, d.deviceId, position, { type, sender, content: d.content });
      await this.db.write(ops);
    } finally {
      this.notifier.settle(position);
    }
    return deliveries.length;
  }

  /**
   * Pending messages for a device up to stream position `to` (oldest first, at most
   * DELIVERY_LIMIT), to go into the sync response whose token is `to`. Acknowledged messages are
   * already deleted, so the `since` of the request is not needed to find them.
   */
  async toDeviceSince(userId: string, deviceId: string, _since: number, to: number): Promise<ToDeviceEvent[]> {
    const pending = await this.store.range(userId, deviceId, 0, to, DELIVERY_LIMIT);
    const key = `${userId}\u0000${deviceId}`;
    const deliveredUpTo = pending.length === DELIVERY_LIMIT ? pending[pending.length - 1]!.position : to;
    const recent = (this.deliveries.get(key) ?? []).filter(([token]) => token !== to);
    recent.push([to, deliveredUpTo]);
    this.deliveries.set(key, recent.slice(-TOKENS_PER_DEVICE));
    return pending.map((m) => ({ type: m.type, sender: m.sender, content: m.content }));
  }

  /**
   * The client synced with `since = upTo`: it received the response that carried that token, so
   * what that response delivered is deleted. For a token this process did not hand out (e.g. before
   * a restart), everything up to the token is taken as delivered, as the spec describes.
   */
  async acknowledgeToDevice(userId: string, deviceId: string, upTo: number): Promise<void> {
    const key = `${userId}\u0000${deviceId}`;
    const recent = this.deliveries.get(key);
    const known = recent?.find(([token]) => token === upTo);
    await this.store.deleteUpTo(userId, deviceId, known ? known[1] : upTo);
  }
}
