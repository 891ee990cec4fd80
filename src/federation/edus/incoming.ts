/**
 * EDUs from other servers (server-server "EDUs"), each checked by edu-rules.ts (a server speaks
 * only for its own users) and then handed to the same services local users feed, so `/sync`
 * shows them exactly like local ones:
 *
 *  - `m.typing`: only for a room the user is joined to; held for FEDERATION_TYPING_MS unless
 *    renewed or stopped ("Typing Notifications");
 *  - `m.receipt`: `m.read` of a user joined to the room ("Receipts");
 *  - `m.presence`: of users who share a room with this server, when presence is enabled ("Presence");
 *  - `m.device_list_update`, `m.signing_key_update`: the remote device list cache ("Device Management");
 *  - `m.direct_to_device`: delivered to local devices, once per (origin, message_id)
 *    ("Send-to-device messaging": a retransmitted message must not arrive twice).
 *
 * A refused EDU throws EduRefused; the transaction receiver logs it and goes on with the others.
 */
import type { Logger } from 'pino';
import type { ReceiptService } from '../../accounts/receipts.js';
import type { ToDeviceService } from '../../accounts/to-device.js';
import type { TypingManager } from '../../accounts/typing.js';
import { compositeKey, type JsonObject } from '../../core/types.js';
import type { PresenceService } from '../../presence/presence.js';
import { LruCache } from '../../storage/lru.js';
import type { RemoteDeviceLists } from '../e2ee/remote-device-lists.js';
import type { EduHandler } from '../receive/transactions.js';
import {
  EduRefused,
  parseDeviceListUpdate,
  parseDirectToDevice,
  parsePresenceEdu,
  parseReceiptEdu,
  parseSigningKeyUpdate,
  parseTypingEdu,
} from './edu-rules.js';

/** A remote typing notice lasts this long unless its server renews it (Synapse's FEDERATION_TIMEOUT). */
export const FEDERATION_TYPING_MS = 60_000;
/** (origin, message_id) pairs remembered; a retransmission comes within minutes, not thousands of messages later. */
const SEEN_TO_DEVICE = 10_000;

export interface IncomingEduDeps {
  typing: Pick<TypingManager, 'setTyping'>;
  receipts: Pick<ReceiptService, 'setReceipt'>;
  /** Undefined when presence is disabled: `m.presence` is then ignored. */
  presence: Pick<PresenceService, 'setRemote'> | undefined;
  toDevice: Pick<ToDeviceService, 'deliverFromRemote'>;
  deviceLists: Pick<RemoteDeviceLists, 'applyUpdate' | 'applySigningKeys'>;
  /** Whether the user is joined to the room now. */
  isJoined(userId: string, roomId: string): Promise<boolean>;
  /** Whether the user is joined to a room this server takes part in. */
  sharesRoom(userId: string): Promise<boolean>;
  log: Logger;
}

/** The handler of every EDU type we accept, by type (for `TransactionReceiver.onEdu`). */
export function incomingEduHandlers(deps: IncomingEduDeps): Map<string, EduHandler> {
  const seenToDevice = new LruCache<string, true>(SEEN_TO_DEVICE);
  const handlers = new Map<string, EduHandler>();

  handlers.set('m.typing', async (origin, content) => {
    const edu = parseTypingEdu(origin, content);
    if (!(await deps.isJoined(edu.userId, edu.roomId))) throw new EduRefused(`${edu.userId} is not joined to ${edu.roomId}`);
    deps.typing.setTyping(edu.roomId, edu.userId, edu.typing, FEDERATION_TYPING_MS);
  });

  handlers.set('m.receipt', async (origin, content) => {
    const joined = new Map<string, boolean>();
    for (const r of parseReceiptEdu(origin, content)) {
      const key = compositeKey(r.userId, r.roomId);
      let ok = joined.get(key);
      if (ok === undefined) joined.set(key, (ok = await deps.isJoined(r.userId, r.roomId)));
      if (!ok) {
        deps.log.debug({ origin, userId: r.userId, roomId: r.roomId }, 'receipt of a user not joined to the room ignored');
        continue;
      }
      await deps.receipts.setReceipt(r.userId, r.roomId, 'm.read', r.eventId, r.threadId, r.ts);
    }
  });

  handlers.set('m.presence', async (origin, content) => {
    if (!deps.presence) return;
    for (const p of parsePresenceEdu(origin, content)) {
      if (!(await deps.sharesRoom(p.userId))) continue;
      deps.presence.setRemote(p.userId, {
        presence: p.presence,
        ...(p.lastActiveAgo === undefined ? {} : { last_active_ago: p.lastActiveAgo }),
        ...(p.currentlyActive === undefined ? {} : { currently_active: p.currentlyActive }),
        ...(p.statusMsg === undefined ? {} : { status_msg: p.statusMsg }),
      });
    }
  });

  handlers.set('m.device_list_update', async (origin, content) => {
    await deps.deviceLists.applyUpdate(parseDeviceListUpdate(origin, content));
  });

  handlers.set('m.signing_key_update', async (origin, content) => {
    await deps.deviceLists.applySigningKeys(parseSigningKeyUpdate(origin, content));
  });

  handlers.set('m.direct_to_device', async (origin, content) => {
    const edu = parseDirectToDevice(origin, content);
    const key = compositeKey(origin, edu.messageId);
    if (seenToDevice.get(key)) return;
    // Marked before the write, so two transactions carrying it at once deliver it once.
    seenToDevice.set(key, true);
    try {
      await deps.toDevice.deliverFromRemote(edu.sender, edu.type, edu.messages as Record<string, Record<string, JsonObject>>);
    } catch (err) {
      seenToDevice.delete(key);
      throw err;
    }
  });

  return handlers;
}
