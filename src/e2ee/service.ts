/**
 * The E2EE key service (client-server-api "End-to-End Encryption": "Key management API",
 * "Cross-signing", "Extensions to /sync"). The server stores and hands out public keys, checks
 * the signatures it can, counts one-time keys and records device list changes for `/sync`.
 */
import type { JsonObject } from '../core/types.js';
import { parseUserId } from '../core/identifiers.js';
import type { BatchOp, Database } from '../storage/db.js';
import { E2eeKeyStore } from '../storage/e2ee.js';
import type { StreamNotifier } from '../stream/notifier.js';
import { KeyedLock } from '../util/keyed-lock.js';
import { ErrCode, MatrixError, invalidParam, missingParam } from '../core/errors.js';
import { CrossSigning, type SignatureFailure } from './cross-signing.js';
import { DeviceListTracker, type DeviceListChange, type DeviceListChanges, type MembershipView } from './device-lists.js';
import { OneTimeKeys } from './one-time-keys.js';
import { isSelfSignedDeviceKeys, sameSignedContent, withVisibleSignatures } from './signatures.js';
import { optionalObject, parseClaimRequest, parseDeviceKeys, parseKeyMap, parseQueryRequest } from './validation.js';

export interface E2eeServiceDeps {
  db: Database;
  notifier: StreamNotifier;
  /** This server's name: users of other servers go to the remote key directory (`attachRemoteKeys`), or under `failures` without one. */
  serverName: string;
  memberships: MembershipView;
  /** The user's devices from the accounts service (device lists follow it; display names come from it). */
  userDevices(userId: string): Promise<Array<{ deviceId: string; displayName?: string }>>;
}

/**
 * Other servers' users' keys (server-server "End-to-End Encryption"), which federation fetches:
 * users grouped by nothing in particular; the directory groups them per server, asks each with the
 * deadline, and reports the servers it could not ask under `failures`.
 */
export interface RemoteKeyDirectory {
  query(users: Map<string, string[]>, timeoutMs: number): Promise<RemoteKeysAnswer>;
  claim(request: Map<string, Map<string, string>>, timeoutMs: number): Promise<{ one_time_keys: Record<string, JsonObject>; failures: Record<string, JsonObject> }>;
}

export interface RemoteKeysAnswer {
  device_keys: Record<string, JsonObject>;
  master_keys: Record<string, JsonObject>;
  self_signing_keys: Record<string, JsonObject>;
  failures: Record<string, JsonObject>;
}

/** What `GET /_matrix/federation/v1/user/devices/{userId}` answers for a local user. */
export interface UserDevicesAnswer {
  user_id: string;
  stream_id: number;
  devices: Array<{ device_id: string; keys?: JsonObject; device_display_name?: string }>;
  master_key?: JsonObject;
  self_signing_key?: JsonObject;
}

/** keys.yaml `timeout`: 10 s by default; capped so a client cannot park a request for long. */
const DEFAULT_REMOTE_TIMEOUT_MS = 10_000;
const MAX_REMOTE_TIMEOUT_MS = 30_000;

export interface Requester {
  userId: string;
  deviceId: string;
}

/** The failure recorded for a server we cannot ask (keys.yaml `failures`): federation is not attached. */
const UNREACHABLE = { status: 503, message: 'This server does not federate' };

export class E2eeService {
  private readonly store: E2eeKeyStore;
  private readonly oneTimeKeys: OneTimeKeys;
  private readonly deviceLists: DeviceListTracker;
  private readonly crossSigning: CrossSigning;
  /** Serialises the read-modify-write of one device's keys (uploads, claims, deletion). */
  private readonly lock = new KeyedLock();
  /** Set by federation (`attachRemoteKeys`); without it other servers' users are `failures`. */
  private remote: RemoteKeyDirectory | undefined;

  constructor(private readonly deps: E2eeServiceDeps) {
    this.store = new E2eeKeyStore(deps.db);
    this.oneTimeKeys = new OneTimeKeys(deps.db, this.store);
    this.deviceLists = new DeviceListTracker(deps.db, this.store, deps.notifier, deps.memberships);
    this.crossSigning = new CrossSigning(this.store, this.deviceLists, async (userId) =>
      (await deps.userDevices(userId)).map((d) => d.deviceId),
    );
  }

  /**
   * `POST /keys/upload` ("Uploading keys"):
   *  1. device keys, if given, must name the requesting user and device and be signed by the
   *     device's own ed25519 key; `unsigned` is not kept. Keys equal to the stored ones (a restarted
   *     client uploading again) keep the stored object with the signatures others added to it;
   *  2. one-time keys are added, fallback keys replace the previous one of their algorithm;
   *  3. everything is written in one batch, with a device list change when the device keys changed;
   *  4. the response counts the device's unclaimed one-time keys.
   */
  async uploadKeys(requester: Requester, body: JsonObject): Promise<{ one_time_key_counts: Record<string, number> }> {
    const { userId, deviceId } = requester;
    const deviceKeysRaw = optionalObject(body, 'device_keys');
    const oneTimeRaw = optionalObject(body, 'one_time_keys');
    const fallbackRaw = optionalObject(body, 'fallback_keys');
    // 1.
    let deviceKeys: JsonObject | undefined;
    if (deviceKeysRaw) {
      const parsed = parseDeviceKeys(deviceKeysRaw);
      if (parsed.user_id !== userId || parsed.device_id !== deviceId) {
        throw invalidParam('device_keys.user_id and device_id must be those of the requesting device');
      }
      if (!isSelfSignedDeviceKeys(parsed)) {
        throw new MatrixError(400, ErrCode.INVALID_SIGNATURE, 'device_keys must be signed by the device ed25519 key');
      }
      const { unsigned: _unsigned, ...kept } = parsed;
      deviceKeys = kept;
    }
    const oneTime = oneTimeRaw ? parseKeyMap(oneTimeRaw, 'one_time_keys') : new Map();
    const fallback = fallbackRaw ? parseKeyMap(fallbackRaw, 'fallback_keys') : new Map();
    return this.lock.run(deviceLockKey(userId, deviceId), async () => {
      const ops: BatchOp[] = [];
      let deviceListChanged = false;
      if (deviceKeys) {
        const stored = await this.store.deviceKeys(userId, deviceId);
        if (!stored || !sameSignedContent(stored, deviceKeys)) {
          this.store.putDeviceKeysTxn(ops, userId, deviceId, deviceKeys);
          deviceListChanged = true;
        }
      }
      // 2.
      await this.oneTimeKeys.addTxn(ops, userId, deviceId, oneTime);
      await this.oneTimeKeys.addFallbackTxn(ops, userId, deviceId, fallback);
      // 3.
      if (deviceListChanged) await this.deviceLists.writeWithChange(ops, userId, { kind: 'device', deviceId });
      else await this.deps.db.write(ops);
      // 4.
      return { one_time_key_counts: await this.oneTimeKeys.counts(userId, deviceId) };
    });
  }

  /**
   * `POST /keys/query`: for each requested user of this server, the device keys of the requested
   * devices (all when the list is empty) that still exist, with `unsigned.device_display_name`;
   * their master and self-signing keys; the user-signing key only of the requester themself. Only
   * the signatures the requester may see are shown ("Key and signature security").
   */
  async queryKeys(requester: Requester, body: JsonObject): Promise<JsonObject> {
    if (body.device_keys === undefined) throw missingParam('Missing device_keys');
    const query = parseQueryRequest(body.device_keys);
    const deviceKeys: JsonObject = {};
    const masterKeys: JsonObject = {};
    const selfSigningKeys: JsonObject = {};
    const userSigningKeys: JsonObject = {};
    const failures: JsonObject = {};
    const { local, remote: remoteUsers } = this.splitByServer(query, failures);
    for (const [userId, requestedDevices] of local) {
      deviceKeys[userId] = await this.localDeviceKeys(userId, requestedDevices, requester.userId);
      const crossSigning = await this.crossSigning.visibleKeys(userId, requester.userId);
      if (crossSigning.master) masterKeys[userId] = crossSigning.master;
      if (crossSigning.selfSigning) selfSigningKeys[userId] = crossSigning.selfSigning;
      if (crossSigning.userSigning) userSigningKeys[userId] = crossSigning.userSigning;
    }
    if (remoteUsers.size > 0 && this.remote) {
      const answer = await this.remote.query(remoteUsers, remoteTimeout(body.timeout));
      Object.assign(deviceKeys, answer.device_keys);
      Object.assign(masterKeys, answer.master_keys);
      Object.assign(selfSigningKeys, answer.self_signing_keys);
      Object.assign(failures, answer.failures);
    }
    return {
      device_keys: deviceKeys,
      master_keys: masterKeys,
      self_signing_keys: selfSigningKeys,
      user_signing_keys: userSigningKeys,
      failures,
    };
  }

  /**
   * `POST /keys/claim`: one key per requested device and algorithm, a one-time key while any is
   * left, else the fallback key (see OneTimeKeys.claim). Devices without either are left out.
   */
  async claimKeys(body: JsonObject): Promise<JsonObject> {
    if (body.one_time_keys === undefined) throw missingParam('Missing one_time_keys');
    const request = parseClaimRequest(body.one_time_keys);
    const claimed: Record<string, Record<string, JsonObject>> = {};
    const failures: JsonObject = {};
    const { local, remote: remoteRequest } = this.splitByServer(request, failures);
    for (const [userId, devices] of local) await this.claimLocal(claimed, userId, devices);
    if (remoteRequest.size > 0 && this.remote) {
      const answer = await this.remote.claim(remoteRequest, remoteTimeout(body.timeout));
      Object.assign(claimed, answer.one_time_keys);
      Object.assign(failures, answer.failures);
    }
    return { one_time_keys: claimed, failures };
  }

  /**
   * A local user's device keys as `/keys/query` lists them (all devices, or those requested), each
   * with its display name in `unsigned` and the signatures `viewer` may see ('' for another server:
   * the owner's only).
   */
  private async localDeviceKeys(userId: string, requestedDevices: readonly string[], viewer: string): Promise<JsonObject> {
    const devices = new Map((await this.deps.userDevices(userId)).map((d) => [d.deviceId, d.displayName]));
    const wanted = requestedDevices.length > 0 ? new Set(requestedDevices) : undefined;
    const userKeys: JsonObject = {};
    for (const [deviceId, keys] of await this.store.deviceKeysOfUser(userId)) {
      if (!devices.has(deviceId) || (wanted && !wanted.has(deviceId))) continue;
      const displayName = devices.get(deviceId);
      const unsigned: JsonObject = displayName === undefined ? {} : { device_display_name: displayName };
      userKeys[deviceId] = { ...withVisibleSignatures(keys, userId, viewer), unsigned };
    }
    return userKeys;
  }

  /**
   * A `/keys/query` or `/keys/claim` request's users: this server's, and other servers' (asked over
   * federation; without it, each such server is a failure). A user id that does not parse is 400.
   */
  private splitByServer<T>(request: Iterable<[string, T]>, failures: JsonObject): { local: [string, T][]; remote: Map<string, T> } {
    const local: [string, T][] = [];
    const remote = new Map<string, T>();
    for (const [userId, wanted] of request) {
      const user = parseUserId(userId);
      if (!user) throw invalidParam(`${userId} is not a user id`);
      if (user.serverName === this.deps.serverName) local.push([userId, wanted]);
      else if (this.remote) remote.set(userId, wanted);
      else failures[user.serverName] = UNREACHABLE;
    }
    return { local, remote };
  }

  private async claimLocal(claimed: Record<string, Record<string, JsonObject>>, userId: string, devices: Map<string, string>): Promise<void> {
    for (const [deviceId, algorithm] of devices) {
      const key = await this.lock.run(deviceLockKey(userId, deviceId), () => this.oneTimeKeys.claim(userId, deviceId, algorithm));
      if (key) ((claimed[userId] ??= {})[deviceId] ??= {})[key.keyName] = key.key;
    }
  }

  // ---- what federation needs (server-server "End-to-End Encryption", "Device Management") ----

  /** Federation fetches other servers' users' keys for `/keys/query` and `/keys/claim` from now on. */
  attachRemoteKeys(remote: RemoteKeyDirectory): void {
    this.remote = remote;
  }

  /** Calls `listener` after every device list change written (local users' go out as EDUs). */
  onDeviceListChange(listener: (change: DeviceListChange) => void): () => void {
    return this.deviceLists.onChange(listener);
  }

  /** Writes `ops` with a device list change of a remote user (their list as cached changed), so `/sync` reports it. */
  writeRemoteDeviceListChange(ops: BatchOp[], userId: string): Promise<void> {
    return this.deviceLists.writeWithChange(ops, userId, { kind: 'remote' });
  }

  /** A local device's published keys (for `m.device_list_update`), undefined without any. */
  publishedDeviceKeys(userId: string, deviceId: string): Promise<JsonObject | undefined> {
    return this.store.deviceKeys(userId, deviceId);
  }

  /** A local user's public cross-signing keys (for `m.signing_key_update`): master and self-signing, as others see them. */
  async publicCrossSigningKeys(userId: string): Promise<{ master?: JsonObject; selfSigning?: JsonObject }> {
    const keys = await this.crossSigning.visibleKeys(userId, '');
    const out: { master?: JsonObject; selfSigning?: JsonObject } = {};
    if (keys.master) out.master = keys.master;
    if (keys.selfSigning) out.selfSigning = keys.selfSigning;
    return out;
  }

  /**
   * `GET /user/devices/{userId}` for a local user: every device with its display name and keys
   * (when uploaded), the public cross-signing keys, and the position of the latest change as
   * `stream_id`, which the next `m.device_list_update` names as `prev_id`.
   */
  async devicesForServer(userId: string): Promise<UserDevicesAnswer> {
    const streamId = await this.deviceLists.latestStreamId(userId);
    const keys = await this.store.deviceKeysOfUser(userId);
    const devices: UserDevicesAnswer['devices'] = [];
    for (const d of await this.deps.userDevices(userId)) {
      const device: UserDevicesAnswer['devices'][number] = { device_id: d.deviceId };
      const k = keys.get(d.deviceId);
      if (k) device.keys = withVisibleSignatures(k, userId, '');
      if (d.displayName !== undefined) device.device_display_name = d.displayName;
      devices.push(device);
    }
    const answer: UserDevicesAnswer = { user_id: userId, stream_id: streamId, devices };
    const crossSigning = await this.publicCrossSigningKeys(userId);
    if (crossSigning.master) answer.master_key = crossSigning.master;
    if (crossSigning.selfSigning) answer.self_signing_key = crossSigning.selfSigning;
    return answer;
  }

  /**
   * `POST /user/keys/query` from another server: the keys of the requested local users, with the
   * owner's signatures only (no requesting user to show their own), and no user-signing keys.
   */
  async queryKeysForServer(body: JsonObject): Promise<JsonObject> {
    if (body.device_keys === undefined) throw missingParam('Missing device_keys');
    const query = parseQueryRequest(body.device_keys);
    const deviceKeys: JsonObject = {};
    const masterKeys: JsonObject = {};
    const selfSigningKeys: JsonObject = {};
    for (const [userId, requestedDevices] of query) {
      if (parseUserId(userId)?.serverName !== this.deps.serverName) continue;
      deviceKeys[userId] = await this.localDeviceKeys(userId, requestedDevices, '');
      const crossSigning = await this.publicCrossSigningKeys(userId);
      if (crossSigning.master) masterKeys[userId] = crossSigning.master;
      if (crossSigning.selfSigning) selfSigningKeys[userId] = crossSigning.selfSigning;
    }
    return { device_keys: deviceKeys, master_keys: masterKeys, self_signing_keys: selfSigningKeys };
  }

  /** `POST /user/keys/claim` from another server: one key per requested device of local users. */
  async claimKeysForServer(body: JsonObject): Promise<JsonObject> {
    if (body.one_time_keys === undefined) throw missingParam('Missing one_time_keys');
    const request = parseClaimRequest(body.one_time_keys);
    const claimed: Record<string, Record<string, JsonObject>> = {};
    for (const [userId, devices] of request) {
      if (parseUserId(userId)?.serverName !== this.deps.serverName) continue;
      await this.claimLocal(claimed, userId, devices);
    }
    return { one_time_keys: claimed };
  }

  /**
   * `POST /keys/device_signing/upload`. `confirmReplacement` runs User-Interactive Authentication;
   * it is called only when the upload would replace existing keys (see CrossSigning.upload).
   */
  async uploadCrossSigningKeys(userId: string, body: JsonObject, confirmReplacement: () => Promise<void>): Promise<void> {
    await this.crossSigning.upload(userId, body, confirmReplacement);
  }

  /** `POST /keys/signatures/upload`: returns `failures` (user -> key id -> error). */
  uploadSignatures(signerId: string, body: JsonObject): Promise<Record<string, Record<string, SignatureFailure>>> {
    return this.crossSigning.uploadSignatures(signerId, body);
  }

  /** `device_lists` of `/sync` and the answer of `/keys/changes`, over stream positions `(fromPos, toPos]`. */
  deviceListsSince(userId: string, fromPos: number, toPos: number): Promise<DeviceListChanges> {
    return this.deviceLists.since(userId, fromPos, toPos);
  }

  /** `device_one_time_keys_count` of `/sync`. */
  oneTimeKeyCounts(userId: string, deviceId: string): Promise<Record<string, number>> {
    return this.oneTimeKeys.counts(userId, deviceId);
  }

  /** `device_unused_fallback_key_types` of `/sync`. */
  unusedFallbackKeyTypes(userId: string, deviceId: string): Promise<string[]> {
    return this.oneTimeKeys.unusedFallbackTypes(userId, deviceId);
  }

  /**
   * Called when a device is created or its display name set (accounts): the user's device list
   * changes, so their other devices and everyone sharing a room see it in `device_lists.changed`
   * and refetch it (client-server "Tracking the device list for a user"), and other servers get an
   * `m.device_list_update` with the display name (server-server "Device Management": sent "for new
   * or deleted devices ... or changes in device information such as the device's human-readable name").
   */
  async onDeviceChanged(userId: string, deviceId: string): Promise<void> {
    await this.deviceLists.writeWithChange([], userId, { kind: 'device', deviceId });
  }

  /** Called when a device is deleted: its keys go, and the user's device list changes. */
  async onDeviceDeleted(userId: string, deviceId: string): Promise<void> {
    await this.lock.run(deviceLockKey(userId, deviceId), async () => {
      const ops: BatchOp[] = [];
      await this.store.deleteDeviceTxn(ops, userId, deviceId);
      await this.deviceLists.writeWithChange(ops, userId, { kind: 'device', deviceId, deleted: true });
    });
  }
}

function remoteTimeout(value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) return DEFAULT_REMOTE_TIMEOUT_MS;
  return Math.min(value, MAX_REMOTE_TIMEOUT_MS);
}

// NUL cannot occur in Matrix ids: one lock key per (user, device).
const deviceLockKey = (userId: string, deviceId: string) => `${userId}\u0000${deviceId}`;
