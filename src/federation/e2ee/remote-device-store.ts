/**
 * The remote device list cache at rest: other servers' users' devices, keys and public
 * cross-signing keys, as their servers told us (`m.device_list_update`, `m.signing_key_update`,
 * `GET /user/devices`), with the position (`stream_id`) the list is at.
 *
 * Key space `federation_remote_device_lists`: `str user_id` -> json RemoteDeviceList.
 *
 * Bounded (docs/storage.md): at most `maxUsers` users, the least recently written dropped first
 * in the same batch (a dropped user is simply asked again), and at most MAX_DEVICES devices and
 * MAX_RECORD_BYTES per user; a list beyond that is not cached at all (queries then go to the
 * user's server each time), so no server can fill the gateway's card through us.
 */
import { tuple, decodeJson, splitStrings } from '../../storage/codec.js';
import type { BatchOp, Database } from '../../storage/db.js';
import type { JsonObject } from '../../core/types.js';

export interface RemoteDevice {
  keys?: JsonObject;
  displayName?: string;
}

export interface RemoteDeviceList {
  userId: string;
  /** The `stream_id` of the last update applied, or of the snapshot. */
  streamId: number;
  /** An update was lost (a gap in `prev_id`) or could not be applied: the list needs a resync before it is trusted. */
  stale: boolean;
  updatedTs: number;
  devices: Record<string, RemoteDevice>;
  masterKey?: JsonObject;
  selfSigningKey?: JsonObject;
}

export const DEFAULT_MAX_CACHED_USERS = 5000;
export const MAX_DEVICES = 100;
export const MAX_RECORD_BYTES = 256 * 1024;

export class RemoteDeviceStore {
  /** Cached users, least recently written first (insertion order, moved on every write). */
  private readonly order = new Set<string>();

  constructor(
    private readonly db: Database,
    private readonly maxUsers = DEFAULT_MAX_CACHED_USERS,
  ) {}

  /** Reads which users are cached, oldest write first, and trims to the bound. */
  async open(): Promise<void> {
    const byTs: Array<[string, number]> = [];
    for await (const [key, value] of this.db.space('federationRemoteDeviceLists').iterator()) {
      byTs.push([splitStrings(key, 1).strings[0]!, decodeJson<RemoteDeviceList>(value).updatedTs]);
    }
    byTs.sort((a, b) => a[1] - b[1]);
    for (const [userId] of byTs) this.order.add(userId);
    const ops: BatchOp[] = [];
    this.trimTxn(ops);
    if (ops.length > 0) await this.db.write(ops);
  }

  get size(): number {
    return this.order.size;
  }

  async get(userId: string): Promise<RemoteDeviceList | undefined> {
    return this.db.getJson<RemoteDeviceList>('federationRemoteDeviceLists', tuple(userId));
  }

  /**
   * Puts the list in the batch (or, when it is beyond the per-user bounds, deletes what was held:
   * it cannot be trusted either), dropping the oldest users beyond the bound. Returns whether it is cached.
   */
  putTxn(ops: BatchOp[], list: RemoteDeviceList): boolean {
    const fits = Object.keys(list.devices).length <= MAX_DEVICES && Buffer.byteLength(JSON.stringify(list)) <= MAX_RECORD_BYTES;
    this.order.delete(list.userId);
    if (!fits) {
      ops.push(this.db.del('federationRemoteDeviceLists', tuple(list.userId)));
      return false;
    }
    ops.push(this.db.putJson('federationRemoteDeviceLists', tuple(list.userId), list));
    this.order.add(list.userId);
    this.trimTxn(ops);
    return true;
  }

  deleteTxn(ops: BatchOp[], userId: string): void {
    this.order.delete(userId);
    ops.push(this.db.del('federationRemoteDeviceLists', tuple(userId)));
  }

  private trimTxn(ops: BatchOp[]): void {
    while (this.order.size > this.maxUsers) {
      const oldest = this.order.values().next().value as string;
      this.deleteTxn(ops, oldest);
    }
  }
}
