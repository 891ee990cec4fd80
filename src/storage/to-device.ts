/**
 * Send-to-device messages waiting for a device (client-server-api "Send-to-Device messaging"):
 * `str user_id ‖ str device_id ‖ u64 stream` -> json { type, sender, content }. Ordered by stream
 * position per device, so a sync reads `(since, now]` with one ranged iterator and acknowledged
 * messages are deleted with one range delete.
 */
import type { JsonObject } from '../core/types.js';
import type { BatchOp, Database } from './db.js';
import { decodeJson, prefixRange, readU64, tuple, u64 } from './codec.js';

export interface ToDeviceMessage {
  type: string;
  sender: string;
  content: JsonObject;
}

export class ToDeviceStore {
  constructor(private readonly db: Database) {}

  putTxn(ops: BatchOp[], userId: string, deviceId: string, position: number, message: ToDeviceMessage): void {
    ops.push(this.db.putJson('toDevice', tuple(userId, deviceId, u64(position)), message));
  }

  /** Messages with `from < position <= to`, oldest first, at most `limit`. */
  async range(
    userId: string,
    deviceId: string,
    from: number,
    to: number,
    limit: number,
  ): Promise<Array<ToDeviceMessage & { position: number }>> {
    const out: Array<ToDeviceMessage & { position: number }> = [];
    if (to <= from || limit <= 0) return out;
    const prefix = tuple(userId, deviceId);
    const iterator = this.db.space('toDevice').iterator({
      gt: tuple(userId, deviceId, u64(Math.max(from, 0))),
      lte: tuple(userId, deviceId, u64(to)),
      limit,
    });
    for await (const [key, value] of iterator) {
      out.push({ ...decodeJson<ToDeviceMessage>(value), position: readU64(key, prefix.length) });
    }
    return out;
  }

  /** Deletes the messages with `position <= upTo`: the device has acknowledged them. */
  async deleteUpTo(userId: string, deviceId: string, upTo: number): Promise<void> {
    await this.db.space('toDevice').clear({ gte: tuple(userId, deviceId), lte: tuple(userId, deviceId, u64(upTo)) });
  }

  /** Deletes everything queued for a device (the device was deleted). */
  async deleteDevice(userId: string, deviceId: string): Promise<void> {
    await this.db.space('toDevice').clear(prefixRange(tuple(userId, deviceId)));
  }
}
