/**
 * Accounts at rest: user records, access tokens (sha256-hashed, never stored in clear) and devices.
 * Key layouts are those of the catalog (keyspaces.ts: users, access_tokens, devices).
 */
import type { BatchOp, Database } from './db.js';
import { decodeJson, prefixRange, tuple } from './codec.js';

/** `user` is a person; `device` is an MQTT device acting as a Matrix user of the gateway (design.md "Sensors in rooms"). */
export type AccountKind = 'user' | 'device';

export interface UserRecord {
  userId: string;
  /** `scrypt$N$r$p$salt$hash` (see accounts/password.ts); absent for accounts that cannot log in with a password. */
  passwordHash?: string;
  admin: boolean;
  kind: AccountKind;
  createdAt: number;
  displayname?: string;
  avatarUrl?: string;
  deactivated?: boolean;
  /**
   * Deactivated with `erase: true`, at this stream position: their events are served redacted to
   * users who joined the room after it (client-server `erase`).
   */
  erasedAt?: number;
}

export interface AccessTokenRecord {
  userId: string;
  deviceId: string;
  createdAt: number;
}

export interface DeviceRecord {
  userId: string;
  deviceId: string;
  displayName?: string;
  /** Hash of the device's current access token; a device has at most one. */
  tokenHash?: string;
  lastSeenTs?: number;
  lastSeenIp?: string;
  /** The `User-Agent` of that request ("" without one, as Synapse stores it); for admin whois. */
  lastSeenUserAgent?: string;
}

export class AccountStore {
  constructor(private readonly db: Database) {}

  getUser(userId: string): Promise<UserRecord | undefined> {
    return this.db.getJson<UserRecord>('users', tuple(userId));
  }

  putUserTxn(ops: BatchOp[], user: UserRecord): void {
    ops.push(this.db.putJson('users', tuple(user.userId), user));
  }

  async listUsers(): Promise<UserRecord[]> {
    const out: UserRecord[] = [];
    for await (const value of this.db.space('users').values()) out.push(decodeJson<UserRecord>(value));
    return out;
  }

  getToken(tokenHash: string): Promise<AccessTokenRecord | undefined> {
    return this.db.getJson<AccessTokenRecord>('accessTokens', Buffer.from(tokenHash, 'hex'));
  }

  putTokenTxn(ops: BatchOp[], tokenHash: string, record: AccessTokenRecord): void {
    ops.push(this.db.putJson('accessTokens', Buffer.from(tokenHash, 'hex'), record));
  }

  delTokenTxn(ops: BatchOp[], tokenHash: string): void {
    ops.push(this.db.del('accessTokens', Buffer.from(tokenHash, 'hex')));
  }

  getDevice(userId: string, deviceId: string): Promise<DeviceRecord | undefined> {
    return this.db.getJson<DeviceRecord>('devices', tuple(userId, deviceId));
  }

  putDeviceTxn(ops: BatchOp[], device: DeviceRecord): void {
    ops.push(this.db.putJson('devices', tuple(device.userId, device.deviceId), device));
  }

  delDeviceTxn(ops: BatchOp[], userId: string, deviceId: string): void {
    ops.push(this.db.del('devices', tuple(userId, deviceId)));
  }

  async listDevices(userId: string): Promise<DeviceRecord[]> {
    const out: DeviceRecord[] = [];
    // The tuple's NUL terminator makes the prefix exact: `@a:x` does not cover `@a:xy`.
    for await (const value of this.db.space('devices').values(prefixRange(tuple(userId)))) {
      out.push(decodeJson<DeviceRecord>(value));
    }
    return out;
  }
}
