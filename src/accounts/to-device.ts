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
   * Recipients on other servers are not reachable yet (no federation EDUs) and are skipped.
   */
  async send(sender: { userId: string; deviceId: string }, type: string, txnId: string, messages: ToDeviceMessages): Promise<void> {
    // 1.
    // Scoped per device and endpoint (client-server "Transaction identifiers"): the event type is in the path.
    const txnKey = compositeKey(sender.userId, sender.deviceId, type, txnId);
    if (this.seenTxns.get(txnKey)) return;
    // 2.
    const deliveries: Array<{ userId: string; deviceId: string; content: JsonObject }> = [];
    for (const [userId, byDevice] of Object.entries(messages)) {
      if (!this.accounts.isLocal(userId)) continue;
      const explicit = new Set(Object.keys(byDevice).filter((d) => d !== '*'));
      for (const deviceId of explicit) deliveries.push({ userId, deviceId, content: byDevice[deviceId]! });
      const wildcard = byDevice['*'];
      if (wildcard !== undefined) {
        for (const d of await this.accounts.listDevices(userId)) {
          if (!explicit.has(d.deviceId)) deliveries.push({ userId, deviceId: d.deviceId, content: wildcard });
        }
      }
    }
    // 3.
    if (deliveries.length > 0) {
      const position = this.notifier.reserve();
      try {
        const ops: BatchOp[] = [];
        for (const d of deliveries) this.store.putTxn(ops, d.userId, d.deviceId, position, { type, sender: sender.userId, content: d.content });
        await this.db.write(ops);
      } finally {
        this.notifier.settle(position);
      }
    }
    this.seenTxns.set(txnKey, true);
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
