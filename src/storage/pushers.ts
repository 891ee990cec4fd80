/**
 * Pushers (client-server "Push Notifications"): `str user_id ‖ str app_id ‖ str pushkey` -> json
 * PusherRecord. Few per user (one per phone), so the service keeps them all in memory and this store
 * only loads, writes and deletes them.
 */
import type { JsonObject } from '../core/types.js';
import type { Database } from './db.js';
import { decodeJson, tuple } from './codec.js';

export interface PusherRecord {
  userId: string;
  appId: string;
  pushkey: string;
  /** Only `http`: this server sends no email. */
  kind: 'http';
  appDisplayName: string;
  deviceDisplayName: string;
  profileTag?: string;
  lang: string;
  /** As the client gave it, `url` included; the gateway gets it without `url`. */
  data: JsonObject;
  /** When the pushkey was last set, seconds (push gateway API `pushkey_ts`). */
  pushkeyTs: number;
  /** The device whose access token set it: deleting the device (or logging out) removes it. */
  deviceId: string;
  /**
   * Every event up to this stream position has been pushed or passed over. Delivery resumes after
   * it, across restarts and outages of the gateway or the uplink.
   */
  pushedUpTo: number;
}

export class PusherStore {
  constructor(private readonly db: Database) {}

  async all(): Promise<PusherRecord[]> {
    const out: PusherRecord[] = [];
    for await (const value of this.db.space('pushers').values()) out.push(decodeJson<PusherRecord>(value));
    return out;
  }

  async put(pusher: PusherRecord): Promise<void> {
    await this.db.write([this.db.putJson('pushers', keyOf(pusher), pusher)]);
  }

  async delete(pusher: Pick<PusherRecord, 'userId' | 'appId' | 'pushkey'>): Promise<void> {
    await this.db.write([this.db.del('pushers', keyOf(pusher))]);
  }
}

function keyOf(p: Pick<PusherRecord, 'userId' | 'appId' | 'pushkey'>): Buffer {
  return tuple(p.userId, p.appId, p.pushkey);
}
