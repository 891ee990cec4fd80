/**
 * End-to-end encryption keys at rest (client-server-api "Key management API", "Cross-signing").
 * The server only stores and hands out public keys; it never sees a private key.
 *
 *  - `e2e_device_keys`     `str user ‖ str device` -> the signed device keys as uploaded (minus
 *                          `unsigned`), with signatures added later by /keys/signatures/upload;
 *  - `e2e_one_time_keys`   `str user ‖ str device ‖ str algorithm:key_id` -> { key, upload };
 *                          `upload` numbers the /keys/upload call that brought the key, because
 *                          keys are claimed in upload order and key ids do not sort that way;
 *  - `e2e_fallback_keys`   `str user ‖ str device ‖ str algorithm` -> { keyId, key, used };
 *  - `e2e_cross_signing`   `str user ‖ str usage` -> the cross-signing key with its signatures;
 *  - `e2e_device_list_stream` `u64 stream` -> { userId }: whose device list changed at a position;
 *  - `e2e_device_list_latest` `str user` -> { stream }: the user's latest device change position (the
 *                          `stream_id` of federation's `m.device_list_update` and `user/devices`).
 */
import type { Json, JsonObject } from '../core/types.js';
import type { BatchOp, Database } from './db.js';
import { decodeJson, prefixRange, splitStrings, tuple, u64 } from './codec.js';

/** A one-time or fallback key: a signed object (`signed_curve25519`) or a bare string (`curve25519`). */
export type KeyObject = Json;

export interface StoredOneTimeKey {
  key: KeyObject;
  /** Which upload brought the key: claims take the lowest first. */
  upload: number;
}

export interface OneTimeKeyEntry extends StoredOneTimeKey {
  /** `algorithm:key_id`. */
  keyName: string;
}

export interface StoredFallbackKey {
  /** The part after `algorithm:`. */
  keyId: string;
  key: KeyObject;
  /** Set once a claim has handed the key out (reported by /sync until replaced). */
  used: boolean;
}

export type CrossSigningUsage = 'master' | 'self_signing' | 'user_signing';

export class E2eeKeyStore {
  constructor(private readonly db: Database) {}

  // ---- device keys ----

  async deviceKeys(userId: string, deviceId: string): Promise<JsonObject | undefined> {
    return this.db.getJson<JsonObject>('e2eDeviceKeys', tuple(userId, deviceId));
  }

  /** Every device of the user that has uploaded keys: device id -> keys. */
  async deviceKeysOfUser(userId: string): Promise<Map<string, JsonObject>> {
    const out = new Map<string, JsonObject>();
    for await (const [key, value] of this.db.space('e2eDeviceKeys').iterator(prefixRange(tuple(userId)))) {
      out.set(splitStrings(key, 2).strings[1]!, decodeJson<JsonObject>(value));
    }
    return out;
  }

  putDeviceKeysTxn(ops: BatchOp[], userId: string, deviceId: string, keys: JsonObject): void {
    ops.push(this.db.putJson('e2eDeviceKeys', tuple(userId, deviceId), keys));
  }

  // ---- one-time keys ----

  /** The device's unclaimed one-time keys, optionally of one algorithm, in key order. */
  async oneTimeKeys(userId: string, deviceId: string, algorithm?: string): Promise<OneTimeKeyEntry[]> {
    // `algorithm:` as a raw prefix of the key-name string (the string's 0x00 terminator not included).
    const prefix = algorithm === undefined ? tuple(userId, deviceId) : Buffer.concat([tuple(userId, deviceId), Buffer.from(`${algorithm}:`)]);
    const out: OneTimeKeyEntry[] = [];
    for await (const [key, value] of this.db.space('e2eOneTimeKeys').iterator(prefixRange(prefix))) {
      out.push({ keyName: splitStrings(key, 3).strings[2]!, ...decodeJson<StoredOneTimeKey>(value) });
    }
    return out;
  }

  putOneTimeKeyTxn(ops: BatchOp[], userId: string, deviceId: string, keyName: string, stored: StoredOneTimeKey): void {
    ops.push(this.db.putJson('e2eOneTimeKeys', tuple(userId, deviceId, keyName), stored));
  }

  delOneTimeKeyTxn(ops: BatchOp[], userId: string, deviceId: string, keyName: string): void {
    ops.push(this.db.del('e2eOneTimeKeys', tuple(userId, deviceId, keyName)));
  }

  // ---- fallback keys ----

  async fallbackKey(userId: string, deviceId: string, algorithm: string): Promise<StoredFallbackKey | undefined> {
    return this.db.getJson<StoredFallbackKey>('e2eFallbackKeys', tuple(userId, deviceId, algorithm));
  }

  /** The device's fallback keys: algorithm -> key. */
  async fallbackKeysOfDevice(userId: string, deviceId: string): Promise<Map<string, StoredFallbackKey>> {
    const out = new Map<string, StoredFallbackKey>();
    for await (const [key, value] of this.db.space('e2eFallbackKeys').iterator(prefixRange(tuple(userId, deviceId)))) {
      out.set(splitStrings(key, 3).strings[2]!, decodeJson<StoredFallbackKey>(value));
    }
    return out;
  }

  putFallbackKeyTxn(ops: BatchOp[], userId: string, deviceId: string, algorithm: string, stored: StoredFallbackKey): void {
    ops.push(this.db.putJson('e2eFallbackKeys', tuple(userId, deviceId, algorithm), stored));
  }

  // ---- cross-signing keys ----

  async crossSigningKey(userId: string, usage: CrossSigningUsage): Promise<JsonObject | undefined> {
    return this.db.getJson<JsonObject>('e2eCrossSigning', tuple(userId, usage));
  }

  putCrossSigningKeyTxn(ops: BatchOp[], userId: string, usage: CrossSigningUsage, key: JsonObject): void {
    ops.push(this.db.putJson('e2eCrossSigning', tuple(userId, usage), key));
  }

  // ---- the device list stream ----

  /** `announced`: a change other servers hear of as `m.device_list_update` (the chain of `prev_id`s). */
  appendDeviceListChangeTxn(ops: BatchOp[], position: number, userId: string, announced: boolean): void {
    ops.push(this.db.putJson('e2eDeviceListStream', u64(position), { userId }));
    if (announced) ops.push(this.db.putJson('e2eDeviceListLatest', tuple(userId), { stream: position }));
  }

  /** The position of the user's latest announced device list change (undefined before the first one). */
  async latestDeviceListChange(userId: string): Promise<number | undefined> {
    return (await this.db.getJson<{ stream: number }>('e2eDeviceListLatest', tuple(userId)))?.stream;
  }

  /** Users whose device list changed at a position in `(from, to]`, each once. */
  async deviceListChanges(from: number, to: number): Promise<Set<string>> {
    const users = new Set<string>();
    if (to <= from) return users;
    const iterator = this.db.space('e2eDeviceListStream').iterator({ gt: u64(Math.max(from, 0)), lte: u64(to) });
    for await (const [, value] of iterator) users.add(decodeJson<{ userId: string }>(value).userId);
    return users;
  }

  // ---- device removal ----

  /** Deletes, in the batch, everything a device uploaded: device keys, one-time and fallback keys. */
  async deleteDeviceTxn(ops: BatchOp[], userId: string, deviceId: string): Promise<void> {
    ops.push(this.db.del('e2eDeviceKeys', tuple(userId, deviceId)));
    const range = prefixRange(tuple(userId, deviceId));
    for (const space of ['e2eOneTimeKeys', 'e2eFallbackKeys'] as const) {
      for await (const key of this.db.space(space).keys(range)) ops.push(this.db.del(space, Buffer.from(key)));
    }
  }
}
