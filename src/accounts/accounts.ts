/**
 * Accounts, access tokens and devices (client-server-api "Client Authentication", "Device
 * Management", "Profiles"). The one owner of the users, access_tokens and devices key spaces.
 *
 * Token lookup is the hot path of every authenticated request: resolved requesters are cached in
 * memory by token hash, and every path that revokes a token also drops it from the cache.
 */
import type { HearthConfig } from '../config/config.js';
import { isValidNewLocalpart, parseUserId } from '../core/identifiers.js';
import { ErrCode, MatrixError, forbidden, notFound } from '../core/errors.js';
import type { StreamNotifier } from '../stream/notifier.js';
import { AccountStore, type AccountKind, type DeviceRecord, type UserRecord } from '../storage/accounts.js';
import type { BatchOp, Database } from '../storage/db.js';
import { LruCache } from '../storage/lru.js';
import { SideStreamStore } from '../stream/side-stream.js';
import { ToDeviceStore } from '../storage/to-device.js';
import { KeyedLock } from '../util/keyed-lock.js';
import { hashPassword, verifyPassword, verifyPasswordOfNobody } from './password.js';
import { generateAccessToken, generateDeviceId, hashToken } from './tokens.js';

export type { AccountKind, DeviceRecord, UserRecord } from '../storage/accounts.js';

/** Who is making an authenticated request. */
export interface Requester {
  userId: string;
  deviceId: string;
  /** sha256 of the access token used (hex): what `logout` revokes. */
  tokenHash: string;
  isAdmin: boolean;
}

export interface CreateUserOptions {
  password?: string;
  /** A hash from `hashPassword` (accounts/password.ts), when the password was hashed earlier (registration). */
  passwordHash?: string;
  admin?: boolean;
  kind?: AccountKind;
  displayname?: string;
}

export interface Session {
  userId: string;
  deviceId: string;
  accessToken: string;
}

export interface Profile {
  displayname?: string;
  avatar_url?: string;
}

/**
 * Other services that follow a user's devices: end-to-end keys forget a deleted device, and every
 * creation, rename and deletion is a change of the user's device list (client-server-api "Tracking
 * the device list for a user"; Synapse's `notify_device_update` on the same three).
 */
export interface AccountHooks {
  /** A device was created, or its display name set (login, registration, `PUT /devices/{deviceId}`). */
  onDeviceChanged?(userId: string, deviceId: string): Promise<void>;
  onDeviceDeleted?(userId: string, deviceId: string): Promise<void>;
}

/** Requesters kept in memory; a home gateway has a handful of users and a few devices each. */
const TOKEN_CACHE_SIZE = 1024;
/** Last-seen is written at most this often per device: a write per request would wear the SD card. */
const LAST_SEEN_WRITE_INTERVAL_MS = 10 * 60 * 1000;

export class AccountService {
  private readonly store: AccountStore;
  private readonly sideStream: SideStreamStore;
  private readonly toDevice: ToDeviceStore;
  private readonly requesters = new LruCache<string, Requester>(TOKEN_CACHE_SIZE);
  private readonly lastSeenWritten = new Map<string, number>();
  private readonly userLock = new KeyedLock();

  constructor(
    private readonly db: Database,
    private readonly config: HearthConfig,
    private readonly notifier: StreamNotifier,
    private readonly hooks: AccountHooks = {},
  ) {
    this.store = new AccountStore(db);
    this.sideStream = new SideStreamStore(db);
    this.toDevice = new ToDeviceStore(db);
  }

  get serverName(): string {
    return this.config.serverName;
  }

  userIdFor(localpart: string): string {
    return `@${localpart}:${this.config.serverName}`;
  }

  /** Whether a user id names an account of this server (not whether it exists). */
  isLocal(userId: string): boolean {
    return parseUserId(userId)?.serverName === this.config.serverName;
  }

  /**
   * Creates an account. Localparts follow appendices "User Identifiers" (a-z 0-9 . _ = - / +);
   * anything else is M_INVALID_USERNAME, an existing one M_USER_IN_USE (registration API errors).
   */
  async createUser(localpart: string, opts: CreateUserOptions = {}): Promise<UserRecord> {
    if (!isValidNewLocalpart(localpart, this.config.serverName)) {
      throw new MatrixError(400, ErrCode.INVALID_USERNAME, 'User ID may only contain a-z, 0-9, ".", "_", "=", "-", "/" and "+"');
    }
    const userId = this.userIdFor(localpart);
    const passwordHash = opts.password === undefined ? opts.passwordHash : await hashPassword(opts.password);
    return this.userLock.run(userId, async () => {
      if (await this.store.getUser(userId)) throw new MatrixError(400, ErrCode.USER_IN_USE, 'User ID already taken.');
      const user: UserRecord = {
        userId,
        admin: opts.admin ?? false,
        kind: opts.kind ?? 'user',
        createdAt: Date.now(),
        ...(passwordHash !== undefined ? { passwordHash } : {}),
        // The default display name is the localpart, as other servers do, so member lists read well.
        displayname: opts.displayname ?? localpart,
      };
      const ops: BatchOp[] = [];
      this.store.putUserTxn(ops, user);
      await this.db.write(ops);
      return user;
    });
  }

  /** Whether a localpart could be registered now (register/available). */
  async isLocalpartAvailable(localpart: string): Promise<boolean> {
    if (!isValidNewLocalpart(localpart, this.config.serverName)) {
      throw new MatrixError(400, ErrCode.INVALID_USERNAME, 'Invalid user name');
    }
    return (await this.store.getUser(this.userIdFor(localpart))) === undefined;
  }

  getUser(userId: string): Promise<UserRecord | undefined> {
    return this.store.getUser(userId);
  }

  listUsers(): Promise<UserRecord[]> {
    return this.store.listUsers();
  }

  /** Active admin accounts: the default owners of bridged device rooms. */
  async listAdmins(): Promise<string[]> {
    return (await this.store.listUsers()).filter((u) => u.admin && !u.deactivated).map((u) => u.userId);
  }

  /** True when the account exists, is active and the password matches. */
  async checkPassword(userId: string, password: string): Promise<boolean> {
    const user = await this.store.getUser(userId);
    if (!user || user.passwordHash === undefined) return verifyPasswordOfNobody(password);
    return (await verifyPassword(password, user.passwordHash)) && !user.deactivated;
  }

  /**
   * Changes a password (client-server-api "Password management"). With `logoutDevices`, every
   * device except the one making the request (`keepDeviceId`) is logged out.
   */
  async setPassword(userId: string, password: string, opts: { logoutDevices?: boolean; keepDeviceId?: string } = {}): Promise<void> {
    const passwordHash = await hashPassword(password);
    await this.updateUser(userId, (user) => ({ ...user, passwordHash }));
    if (opts.logoutDevices) {
      const others = (await this.store.listDevices(userId)).filter((d) => d.deviceId !== opts.keepDeviceId);
      await this.deleteDevices(userId, others.map((d) => d.deviceId));
    }
  }

  /**
   * `m.login.password` (client-server-api "Password-based"): `user` is a localpart or a full user id
   * of this server. Wrong credentials and unknown users both give 403 M_FORBIDDEN after the same
   * work (an unknown user's password is checked against a hash nobody matches), so neither the
   * answer nor its timing reveals which accounts exist.
   */
  async loginWithPassword(
    user: string,
    password: string,
    device: { deviceId?: string; displayName?: string } = {},
  ): Promise<Session> {
    const userId = this.resolveLoginUser(user);
    const record = userId === undefined ? undefined : await this.store.getUser(userId);
    const matches =
      record?.passwordHash === undefined ? await verifyPasswordOfNobody(password) : await verifyPassword(password, record.passwordHash);
    // A deactivated account has no password left; it is still told apart, as the spec's
    // M_USER_DEACTIVATED asks (and as Synapse does), but only after the same work as any other.
    if (record?.deactivated) throw new MatrixError(403, ErrCode.USER_DEACTIVATED, 'This account has been deactivated');
    if (!record || !matches) throw forbidden('Invalid username or password');
    return this.createDeviceAndToken(record.userId, device.deviceId, device.displayName);
  }

  /** Maps a login identifier to a user id of this server; localparts are matched case-insensitively. */
  resolveLoginUser(user: string): string | undefined {
    if (!user.startsWith('@')) return this.userIdFor(user.toLowerCase());
    const parsed = parseUserId(user);
    if (!parsed || parsed.serverName !== this.config.serverName) return undefined;
    return this.userIdFor(parsed.localpart.toLowerCase());
  }

  /**
   * Issues an access token for a device, creating the device if needed. Reusing a device id
   * revokes the token that device had (client-server-api "Relationship between access tokens and
   * devices": a device has at most one access token). A new device, or a new display name for a
   * reused one, is a device list change (`hooks.onDeviceChanged`).
   */
  async createDeviceAndToken(userId: string, deviceId?: string, displayName?: string): Promise<Session> {
    const id = deviceId ?? generateDeviceId();
    const accessToken = generateAccessToken();
    const tokenHash = hashToken(accessToken);
    await this.userLock.run(`${userId}\u0000${id}`, async () => {
      const existing = await this.store.getDevice(userId, id);
      const ops: BatchOp[] = [];
      if (existing?.tokenHash) {
        this.store.delTokenTxn(ops, existing.tokenHash);
        this.requesters.delete(existing.tokenHash);
      }
      const name = displayName ?? existing?.displayName;
      this.store.putDeviceTxn(ops, {
        ...existing,
        userId,
        deviceId: id,
        tokenHash,
        lastSeenTs: Date.now(),
        ...(name !== undefined ? { displayName: name } : {}),
      });
      this.store.putTokenTxn(ops, tokenHash, { userId, deviceId: id, createdAt: Date.now() });
      await this.db.write(ops);
      // A new token for an unchanged device changes nothing other devices must refetch.
      if (!existing || name !== existing.displayName) await this.hooks.onDeviceChanged?.(userId, id);
    });
    return { userId, deviceId: id, accessToken };
  }

  /**
   * Resolves an access token to its requester, or undefined if it is unknown or revoked. `seen`
   * updates the device's last-seen fields (throttled).
   */
  async authenticateToken(token: string, seen?: { ip: string; userAgent?: string }): Promise<Requester | undefined> {
    const tokenHash = hashToken(token);
    let requester = this.requesters.get(tokenHash);
    if (!requester) {
      const record = await this.store.getToken(tokenHash);
      if (!record) return undefined;
      const user = await this.store.getUser(record.userId);
      if (!user || user.deactivated) return undefined;
      requester = { userId: record.userId, deviceId: record.deviceId, tokenHash, isAdmin: user.admin };
      this.requesters.set(tokenHash, requester);
    }
    if (seen) await this.noteSeen(requester, seen.ip, seen.userAgent ?? '');
    return requester;
  }

  private async noteSeen(requester: Requester, ip: string, userAgent: string): Promise<void> {
    const key = `${requester.userId}\u0000${requester.deviceId}`;
    const now = Date.now();
    if (now - (this.lastSeenWritten.get(key) ?? 0) < LAST_SEEN_WRITE_INTERVAL_MS) return;
    this.lastSeenWritten.set(key, now);
    await this.userLock.run(key, async () => {
      const device = await this.store.getDevice(requester.userId, requester.deviceId);
      if (!device) return;
      const ops: BatchOp[] = [];
      this.store.putDeviceTxn(ops, { ...device, lastSeenTs: now, lastSeenIp: ip, lastSeenUserAgent: userAgent });
      await this.db.write(ops);
    });
  }

  /** POST /logout: revokes the token and deletes its device (client-server-api "Logout"). */
  async logout(requester: Requester): Promise<void> {
    await this.deleteDevices(requester.userId, [requester.deviceId]);
    // A token whose device record was already gone is still revoked.
    const ops: BatchOp[] = [];
    this.store.delTokenTxn(ops, requester.tokenHash);
    this.requesters.delete(requester.tokenHash);
    await this.db.write(ops);
  }

  /** POST /logout/all: every token and device of the user. */
  async logoutAll(userId: string): Promise<void> {
    const devices = await this.store.listDevices(userId);
    await this.deleteDevices(userId, devices.map((d) => d.deviceId));
  }

  listDevices(userId: string): Promise<DeviceRecord[]> {
    return this.store.listDevices(userId);
  }

  getDevice(userId: string, deviceId: string): Promise<DeviceRecord | undefined> {
    return this.store.getDevice(userId, deviceId);
  }

  /**
   * PUT /devices/{deviceId}: only the display name is client-settable, and left as it is when not
   * given (device_management.yaml: "If not given, the display name is unchanged"). Every successful
   * call is a device list change, as in Synapse (`DeviceHandler.update_device` notifies
   * unconditionally), so clients see exactly what they would see there.
   */
  async updateDevice(userId: string, deviceId: string, displayName: string | undefined): Promise<void> {
    await this.userLock.run(`${userId}\u0000${deviceId}`, async () => {
      const device = await this.store.getDevice(userId, deviceId);
      if (!device) throw notFound('Unknown device');
      if (displayName !== undefined) {
        const ops: BatchOp[] = [];
        this.store.putDeviceTxn(ops, { ...device, displayName });
        await this.db.write(ops);
      }
      await this.hooks.onDeviceChanged?.(userId, deviceId);
    });
  }

  /**
   * Deletes devices with their access tokens and pending to-device messages, then tells
   * `hooks.onDeviceDeleted` (its keys go; a device list change). Unknown ids are skipped.
   */
  async deleteDevices(userId: string, deviceIds: string[]): Promise<void> {
    for (const deviceId of deviceIds) {
      await this.userLock.run(`${userId}\u0000${deviceId}`, async () => {
        const device = await this.store.getDevice(userId, deviceId);
        if (!device) return;
        const ops: BatchOp[] = [];
        if (device.tokenHash) {
          this.store.delTokenTxn(ops, device.tokenHash);
          this.requesters.delete(device.tokenHash);
        }
        this.store.delDeviceTxn(ops, userId, deviceId);
        await this.db.write(ops);
        this.lastSeenWritten.delete(`${userId}\u0000${deviceId}`);
        await this.toDevice.deleteDevice(userId, deviceId);
        await this.hooks.onDeviceDeleted?.(userId, deviceId);
      });
    }
  }

  /** The public profile (client-server-api "Profiles"); undefined for unknown or deactivated users. */
  async getProfile(userId: string): Promise<Profile | undefined> {
    const user = await this.store.getUser(userId);
    if (!user || user.deactivated) return undefined;
    return {
      ...(user.displayname !== undefined ? { displayname: user.displayname } : {}),
      ...(user.avatarUrl !== undefined ? { avatar_url: user.avatarUrl } : {}),
    };
  }

  /**
   * Changes profile fields (`null` clears one) and records the change on the side stream.
   * Returns the resulting profile.
   */
  async setProfile(userId: string, change: { displayname?: string | null; avatar_url?: string | null }): Promise<Profile> {
    const updated = await this.updateUser(userId, (user) => {
      const next = { ...user };
      if (change.displayname !== undefined) {
        if (change.displayname === null) delete next.displayname;
        else next.displayname = change.displayname;
      }
      if (change.avatar_url !== undefined) {
        if (change.avatar_url === null) delete next.avatarUrl;
        else next.avatarUrl = change.avatar_url;
      }
      return next;
    }, (ops, position) => this.sideStream.appendTxn(ops, position, { kind: 'profile', userId }));
    return {
      ...(updated.displayname !== undefined ? { displayname: updated.displayname } : {}),
      ...(updated.avatarUrl !== undefined ? { avatar_url: updated.avatarUrl } : {}),
    };
  }

  /** Deactivation (client-server-api "Account deactivation"): no password, no devices, no profile. */
  async deactivate(userId: string, opts: { erase?: boolean } = {}): Promise<void> {
    // Who "joins the room after the erasure request" is judged against this position.
    const erasedAt = opts.erase ? this.notifier.position : undefined;
    await this.updateUser(userId, (user) => {
      const { passwordHash: _p, displayname: _d, avatarUrl: _a, ...rest } = user;
      return { ...rest, deactivated: true, ...(erasedAt !== undefined ? { erasedAt } : {}) };
    });
    if (erasedAt !== undefined) (await this.erasedUsers()).set(userId, erasedAt);
    await this.logoutAll(userId);
  }

  /** Users deactivated with `erase`, with the stream position of the erasure (few: loaded once, then kept up to date). */
  async erasedUsers(): Promise<Map<string, number>> {
    this.erased ??= this.store.listUsers().then((users) => new Map(users.filter((u) => u.erasedAt !== undefined).map((u) => [u.userId, u.erasedAt!])));
    return this.erased;
  }
  private erased: Promise<Map<string, number>> | undefined;

  /**
   * Read-modify-write of a user record under the user's lock. With `sideStreamTxn`, the write takes
   * a stream position so sync and other readers see the change after a token.
   */
  private async updateUser(
    userId: string,
    change: (user: UserRecord) => UserRecord,
    sideStreamTxn?: (ops: BatchOp[], position: number) => void,
  ): Promise<UserRecord> {
    return this.userLock.run(userId, async () => {
      const user = await this.store.getUser(userId);
      if (!user || user.deactivated) throw notFound('Unknown user');
      const updated = change(user);
      const ops: BatchOp[] = [];
      this.store.putUserTxn(ops, updated);
      if (!sideStreamTxn) {
        await this.db.write(ops);
      } else {
        const position = this.notifier.reserve();
        try {
          sideStreamTxn(ops, position);
          await this.db.write(ops);
        } finally {
          this.notifier.settle(position);
        }
      }
      return updated;
    });
  }
}
