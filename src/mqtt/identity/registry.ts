/**
 * The registry of MQTT devices (`mqtt_devices` key space): each device is a Matrix user of the
 * gateway with MQTT credentials. Passwords are random, shown once, and stored scrypt-hashed. A
 * device may also have an ed25519 public key: then every message it publishes must be signed with
 * it (docs/mqtt.md "Signed readings", signing/verifier.ts); keys are kept in memory, one per device.
 */
import { createHash, randomBytes } from 'node:crypto';
import { decodeBase64, encodeUnpaddedBase64 } from '../../core/base64.js';
import type { Database } from '../../storage/db.js';
import { decodeJson, splitStrings, tuple } from '../../storage/codec.js';
import { hashPassword, verifyPassword, verifyPasswordOfNobody } from '../../accounts/password.js';
import { isValidDeviceName, DEVICE_NAME_MAX_LENGTH, type DeviceIdentity } from './identity.js';

/** Value layout of `mqtt_devices` (see keyspaces.ts). */
interface MqttDeviceRecord {
  userId: string;
  passwordHash: string;
  createdAt: number;
  /** Unpadded base64 of the device's ed25519 public key; absent: the device does not sign. */
  publicKey?: string;
}

/** `signed`: every publish must carry a valid signature by the device's key; `unsigned`: none is checked. */
export type SigningPolicy = 'signed' | 'unsigned';

export interface NewDeviceCredentials {
  name: string;
  userId: string;
  /** The MQTT username: the device name. */
  username: string;
  /** Shown once; only its scrypt hash is stored. */
  password: string;
  signing: SigningPolicy;
  publicKey?: string;
}

export interface DeviceSummary {
  name: string;
  userId: string;
  createdAt: number;
  signing: SigningPolicy;
  /** Unpadded base64, when `signing` is `signed`. */
  publicKey?: string;
}

export interface DeviceRegistryDeps {
  db: Database;
  /** Creates (or finds) the gateway-owned Matrix user `@<localpart>:<server>`; returns its user id. */
  ensureMatrixUser(localpart: string): Promise<string>;
  now?: () => number;
}

export class DeviceRegistryError extends Error {
  constructor(
    readonly code: 'invalid_name' | 'exists' | 'not_found' | 'invalid_key',
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
  /** Public keys of the devices that sign, by name. */
  private readonly keys = new Map<string, Uint8Array>();

  private constructor(private readonly deps: DeviceRegistryDeps) {}

  static async open(deps: DeviceRegistryDeps): Promise<DeviceRegistry> {
    const registry = new DeviceRegistry(deps);
    for await (const [key, value] of deps.db.space('mqttDevices').iterator()) {
      const name = nameFromKey(key);
      registry.names.add(name);
      const record = decodeJson<MqttDeviceRecord>(value);
      if (record.publicKey !== undefined) registry.keys.set(name, decodeBase64(record.publicKey));
    }
    return registry;
  }

  /** Synchronous membership test for the ACL policy (users may command registered devices). */
  isDevice(name: string): boolean {
    return this.names.has(name);
  }

  /** The device's public key when it signs (synchronous: checked on every PUBLISH). */
  publicKeyOf(name: string): Uint8Array | undefined {
    return this.keys.get(name);
  }

  async addDevice(name: string, opts: { publicKey?: Uint8Array } = {}): Promise<NewDeviceCredentials> {
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
      ...(opts.publicKey ? { publicKey: checkedKey(opts.publicKey) } : {}),
    };
    await this.deps.db.write([this.deps.db.putJson('mqttDevices', key, record)]);
    this.names.add(name);
    if (opts.publicKey) this.keys.set(name, Uint8Array.from(opts.publicKey));
    return { name, userId, username: name, password, ...signingOf(record) };
  }

  /**
   * Sets (a key: the device must sign from now on) or clears (undefined: it need not) a device's
   * public key. Also how trust on first use pins the first key a device offers.
   */
  async setPublicKey(name: string, publicKey: Uint8Array | undefined): Promise<DeviceSummary> {
    if (!this.names.has(name)) throw new DeviceRegistryError('not_found', `no device "${name}"`);
    const encoded = publicKey ? checkedKey(publicKey) : undefined;
    // In memory at once, before any await: the next PUBLISH checked already sees the new policy.
    if (publicKey) this.keys.set(name, Uint8Array.from(publicKey));
    else this.keys.delete(name);
    const key = tuple(name);
    const record = await this.deps.db.getJson<MqttDeviceRecord>('mqttDevices', key);
    if (!record) throw new DeviceRegistryError('not_found', `no device "${name}"`);
    const { publicKey: _old, ...rest } = record;
    const updated: MqttDeviceRecord = encoded ? { ...rest, publicKey: encoded } : rest;
    await this.deps.db.write([this.deps.db.putJson('mqttDevices', key, updated)]);
    return { name, userId: record.userId, createdAt: record.createdAt, ...signingOf(updated) };
  }

  async listDevices(): Promise<DeviceSummary[]> {
    const out: DeviceSummary[] = [];
    for await (const [key, value] of this.deps.db.space('mqttDevices').iterator()) {
      const record = decodeJson<MqttDeviceRecord>(value);
      out.push({ name: nameFromKey(key), userId: record.userId, createdAt: record.createdAt, ...signingOf(record) });
    }
    return out;
  }

  /** Removes the device's MQTT credentials (its Matrix user stays, with its rooms and history). */
  async removeDevice(name: string): Promise<void> {
    const key = tuple(name);
    if ((await this.deps.db.space('mqttDevices').get(key)) === undefined) {
      throw new DeviceRegistryError('not_found', `no device "${name}"`);
    }
    // Its last signature counter goes too (signing/verifier.ts): a new device of that name starts afresh.
    await this.deps.db.write([this.deps.db.del('mqttDevices', key), this.deps.db.del('mqttDeviceCounters', key)]);
    this.names.delete(name);
    this.keys.delete(name);
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

function signingOf(record: MqttDeviceRecord): { signing: SigningPolicy; publicKey?: string } {
  return record.publicKey !== undefined ? { signing: 'signed', publicKey: record.publicKey } : { signing: 'unsigned' };
}

function checkedKey(publicKey: Uint8Array): string {
  if (publicKey.length !== 32) throw new DeviceRegistryError('invalid_key', 'an ed25519 public key is 32 bytes (43 characters of base64)');
  return encodeUnpaddedBase64(publicKey);
}

/** Keys are `str device name` (see keyspaces.ts). */
function nameFromKey(key: Uint8Array): string {
  return splitStrings(key, 1).strings[0]!;
}
