/**
 * The registry of MQTT devices (`mqtt_devices` key space): each device is a Matrix user of the
 * gateway with MQTT credentials. Passwords are random, shown once, and stored scrypt-hashed.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Database } from '../../storage/db.js';
import { decodeJson, splitStrings, tuple } from '../../storage/codec.js';
import { hashPassword, verifyPassword, verifyPasswordOfNobody } from '../../accounts/password.js';
import { isValidDeviceName, DEVICE_NAME_MAX_LENGTH, type DeviceIdentity } from './identity.js';

/** Value layout of `mqtt_devices` (see keyspaces.ts). */
interface MqttDeviceRecord {
  userId: string;
  passwordHash: string;
  createdAt: number;
}

export interface NewDeviceCredentials {
  name: string;
  userId: string;
  /** The MQTT username: the device name. */
  username: string;
  /** Shown once; only its scrypt hash is stored. */
  password: string;
}

export interface DeviceSummary {
  name: string;
  userId: string;
  createdAt: number;
}

export interface DeviceRegistryDeps {
  db: Database;
  /** Creates (or finds) the gateway-owned Matrix user `@<localpart>:<server>`; returns its user id. */
  ensureMatrixUser(localpart: string): Promise<string>;
  now?: () => number;
}

export class DeviceRegistryError extends Error {
  constructor(
    readonly code: 'invalid_name' | 'exists' | 'not_found',
    message: string,
  ) {
    super(message);
  }
}

/** 18 random bytes: 144 bits, 24 characters of base64url, easy to paste into device firmware. */
const PASSWORD_BYTES = 18;

export class DeviceRegistry {
  /**
   * Successful verifications keyed by sha256(username NUL password), so a flood of CONNECTs with
   * good credentials (reconnect loops, many clients of one device) costs a hash, not an scrypt.
   */
  private readonly verified = new Map<string, DeviceIdentity>();
  private readonly names = new Set<string>();

  private constructor(private readonly deps: DeviceRegistryDeps) {}

  static async open(deps: DeviceRegistryDeps): Promise<DeviceRegistry> {
    const registry = new DeviceRegistry(deps);
    for await (const key of deps.db.space('mqttDevices').keys()) {
      registry.names.add(nameFromKey(key));
    }
    return registry;
  }

  /** Synchronous membership test for the ACL policy (users may command registered devices). */
  isDevice(name: string): boolean {
    return this.names.has(name);
  }

  async addDevice(name: string): Promise<NewDeviceCredentials> {
    if (!isValidDeviceName(name)) {
      throw new DeviceRegistryError(
        'invalid_name',
        `device names are 1-${DEVICE_NAME_MAX_LENGTH} characters of [a-z0-9_-], starting with a letter or digit: "${name}"`,
      );
    }
    const key = tuple(name);
    if (this.names.has(name) || (await this.deps.db.space('mqttDevices').get(key)) !== undefined) {
      throw new DeviceRegistryError('exists', `device "${name}" already exists`);
    }
    const userId = await this.deps.ensureMatrixUser(name);
    const password = randomBytes(PASSWORD_BYTES).toString('base64url');
    const record: MqttDeviceRecord = {
      userId,
      passwordHash: await hashPassword(password),
      createdAt: (this.deps.now ?? Date.now)(),
    };
    await this.deps.db.write([this.deps.db.putJson('mqttDevices', key, record)]);
    this.names.add(name);
    return { name, userId, username: name, password };
  }

  async listDevices(): Promise<DeviceSummary[]> {
    const out: DeviceSummary[] = [];
    for await (const [key, value] of this.deps.db.space('mqttDevices').iterator()) {
      const record = decodeJson<MqttDeviceRecord>(value);
      out.push({ name: nameFromKey(key), userId: record.userId, createdAt: record.createdAt });
    }
    return out;
  }

  /** Removes the device's MQTT credentials (its Matrix user stays, with its rooms and history). */
  async removeDevice(name: string): Promise<void> {
    const key = tuple(name);
    if ((await this.deps.db.space('mqttDevices').get(key)) === undefined) {
      throw new DeviceRegistryError('not_found', `no device "${name}"`);
    }
    await this.deps.db.write([this.deps.db.del('mqttDevices', key)]);
    this.names.delete(name);
    for (const [cacheKey, identity] of this.verified) {
      if (identity.deviceName === name) this.verified.delete(cacheKey);
    }
  }

  /** The device identity for MQTT CONNECT credentials, or undefined when they do not match. */
  async verify(username: string, password: string): Promise<DeviceIdentity | undefined> {
    const cacheKey = createHash('sha256').update(username).update('\0').update(password).digest('base64');
    const cached = this.verified.get(cacheKey);
    if (cached) return cached;
    if (!isValidDeviceName(username)) return undefined;
    const record = await this.deps.db.getJson<MqttDeviceRecord>('mqttDevices', tuple(username));
    // An unknown device costs the same scrypt as a wrong password, so timing does not tell which devices exist.
    if (!record) return verifyPasswordOfNobody(password).then(() => undefined);
    if (!(await verifyPassword(password, record.passwordHash))) return undefined;
    // Removed while scrypt ran: do not resurrect it in the cache.
    if (!this.names.has(username)) return undefined;
    const identity: DeviceIdentity = { kind: 'device', deviceName: username, userId: record.userId };
    this.verified.set(cacheKey, identity);
    return identity;
  }
}

/** Keys are `str device name` (see keyspaces.ts). */
function nameFromKey(key: Uint8Array): string {
  return splitStrings(key, 1).strings[0]!;
}
