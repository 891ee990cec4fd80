/**
 * Cross-signing keys and signatures (client-server-api "Cross-signing"; cross_signing.yaml
 * `/keys/device_signing/upload`, `/keys/signatures/upload`).
 */
import type { JsonObject } from '../core/types.js';
import type { BatchOp } from '../storage/db.js';
import type { CrossSigningUsage, E2eeKeyStore } from '../storage/e2ee.js';
import { ErrCode, MatrixError, forbidden, invalidParam, type ErrCodeValue } from '../core/errors.js';
import { KeyedLock } from '../util/keyed-lock.js';
import type { DeviceListTracker } from './device-lists.js';
import { isSignedBy, mergeSignatures, sameSignedContent, withVisibleSignatures } from './signatures.js';
import { parseCrossSigningKey, type CrossSigningKey } from './validation.js';
import { isJsonObject } from '../core/json-object.js';

const UPLOAD_FIELDS: ReadonlyArray<[field: string, usage: CrossSigningUsage]> = [
  ['master_key', 'master'],
  ['self_signing_key', 'self_signing'],
  ['user_signing_key', 'user_signing'],
];

/** The device ids of a user (from the accounts service). */
export type UserDeviceIds = (userId: string) => Promise<string[]>;

/** What a signature upload signs: the signer's device, the signer's master key, another user's master key. */
type SignedKeyKind = 'own_device' | 'own_master' | 'other_master';

/** One entry of `/keys/signatures/upload` `failures`. */
export interface SignatureFailure {
  errcode: ErrCodeValue;
  error: string;
}

/** A user's cross-signing keys as `/keys/query` shows them to one viewer. */
export interface VisibleCrossSigningKeys {
  master?: JsonObject;
  selfSigning?: JsonObject;
  userSigning?: JsonObject;
}

export class CrossSigning {
  /** Serialises the read-modify-write of one user's cross-signing keys (uploads, signatures on them). */
  private readonly lock = new KeyedLock();

  constructor(
    private readonly store: E2eeKeyStore,
    private readonly deviceLists: DeviceListTracker,
    private readonly deviceIdsOf: UserDeviceIds,
  ) {}

  /**
   * `/keys/device_signing/upload` for `userId`, one at a time per user:
   *  1. each given key is well formed and belongs to `userId`;
   *  2. the self-signing and user-signing keys are signed by the accompanying master key, or the
   *     stored one if none accompanies them (none at all: 400 M_MISSING_PARAM);
   *  3. no public key may be one of the user's device ids ("Key and signature security"): 403;
   *  4. User-Interactive Authentication (`confirmReplacement`) unless there is no master key yet or
   *     every given key equals the stored one of its usage (the spec's two exemptions);
   *  5. the new keys are written in one batch with a device list change of the user.
   */
  upload(userId: string, body: JsonObject, confirmReplacement: () => Promise<void>): Promise<void> {
    return this.lock.run(userId, () => this.uploadLocked(userId, body, confirmReplacement));
  }

  private async uploadLocked(userId: string, body: JsonObject, confirmReplacement: () => Promise<void>): Promise<void> {
    // 1.
    const given = new Map<CrossSigningUsage, { key: CrossSigningKey; publicKey: string }>();
    for (const [field, usage] of UPLOAD_FIELDS) {
      if (body[field] === undefined) continue;
      const parsed = parseCrossSigningKey(body[field], usage, field);
      if (parsed.key.user_id !== userId) throw invalidParam(`${field}.user_id must be ${userId}`);
      given.set(usage, parsed);
    }
    if (given.size === 0) return;
    // 2.
    const storedMaster = await this.store.crossSigningKey(userId, 'master');
    const masterPublicKey = given.get('master')?.publicKey ?? (storedMaster ? publicKeyOf(storedMaster) : undefined);
    for (const usage of ['self_signing', 'user_signing'] as const) {
      const sub = given.get(usage);
      if (!sub) continue;
      if (masterPublicKey === undefined) throw new MatrixError(400, ErrCode.MISSING_PARAM, 'No master signing key is available');
      if (!isSignedBy(sub.key, userId, `ed25519:${masterPublicKey}`, masterPublicKey)) {
        throw new MatrixError(400, ErrCode.INVALID_SIGNATURE, `The ${usage} key is not signed by the master key`);
      }
    }
    // 3.
    const deviceIds = new Set(await this.deviceIdsOf(userId));
    for (const { publicKey } of given.values()) if (deviceIds.has(publicKey)) throw forbidden('Key ID in use');
    // 4.
    const changed: Array<[CrossSigningUsage, CrossSigningKey]> = [];
    for (const [usage, { key }] of given) {
      const stored = usage === 'master' ? storedMaster : await this.store.crossSigningKey(userId, usage);
      if (!stored || !sameSignedContent(stored, key)) changed.push([usage, key]);
    }
    if (changed.length === 0) return;
    if (storedMaster) await confirmReplacement();
    // 5.
    const ops: BatchOp[] = [];
    for (const [usage, key] of changed) this.store.putCrossSigningKeyTxn(ops, userId, usage, key);
    // Only the master and self-signing keys are public; a new user-signing key alone concerns the user's own devices.
    const cause = changed.some(([usage]) => usage !== 'user_signing') ? ({ kind: 'cross_signing' } as const) : ({ kind: 'private' } as const);
    await this.deviceLists.writeWithChange(ops, userId, cause);
  }

  /**
   * `/keys/signatures/upload` by `signerId`: for each `user id -> key id -> signed object`,
   *  1. find the key signed: one of the signer's own devices (key id = device id), the signer's own
   *     master key, or another user's master key (key id = its public key); else M_NOT_FOUND;
   *  2. the object must be that key apart from its signatures (cross_signing.yaml); else M_INVALID_PARAM;
   *  3. it must carry a valid signature by the one key allowed to sign it ("Cross-signing"): the
   *     signer's self-signing key for their devices, one of the signer's devices for their master
   *     key, the signer's user-signing key for another user's master key; else M_INVALID_SIGNATURE;
   *  4. that signature is added to the stored key, with a device list change for the key's owner
   *     (for another user's master key: for the signer, the only one who may see it).
   * Each object succeeds or fails on its own; failures are returned as `user -> key id -> error`.
   */
  async uploadSignatures(signerId: string, body: JsonObject): Promise<Record<string, Record<string, SignatureFailure>>> {
    const failures: Record<string, Record<string, SignatureFailure>> = {};
    for (const [targetUserId, objects] of Object.entries(body)) {
      if (!isJsonObject(objects)) throw invalidParam(`${targetUserId} must map key ids to signed objects`);
      for (const [keyId, signed] of Object.entries(objects)) {
        const failure = isJsonObject(signed)
          ? await this.lock.run(targetUserId, () => this.addSignature(signerId, targetUserId, keyId, signed))
          : { errcode: ErrCode.BAD_JSON, error: 'Signed object must be an object' };
        if (failure) (failures[targetUserId] ??= {})[keyId] = failure;
      }
    }
    return failures;
  }

  private async addSignature(signerId: string, targetUserId: string, keyId: string, signed: JsonObject): Promise<SignatureFailure | undefined> {
    // 1.
    const target = await this.findSignedKey(signerId, targetUserId, keyId);
    if (!target) return { errcode: ErrCode.NOT_FOUND, error: `No key ${keyId} of ${targetUserId}` };
    // 2.
    if (!sameSignedContent(target.stored, signed)) return { errcode: ErrCode.INVALID_PARAM, error: 'The signed object does not match the stored key' };
    // 3.
    const signature = await this.allowedSignature(signerId, target.kind, signed);
    if (!signature) return { errcode: ErrCode.INVALID_SIGNATURE, error: 'Invalid signature' };
    // 4.
    const updated = mergeSignatures(target.stored, signerId, { [signature.keyId]: signature.value });
    const ops: BatchOp[] = [];
    if (target.kind === 'own_device') this.store.putDeviceKeysTxn(ops, targetUserId, keyId, updated);
    else this.store.putCrossSigningKeyTxn(ops, targetUserId, 'master', updated);
    const cause =
      target.kind === 'own_device'
        ? ({ kind: 'device', deviceId: keyId } as const)
        : target.kind === 'other_master'
          ? ({ kind: 'private' } as const)
          : ({ kind: 'cross_signing' } as const);
    await this.deviceLists.writeWithChange(ops, target.kind === 'other_master' ? signerId : targetUserId, cause);
    return undefined;
  }

  private async findSignedKey(
    signerId: string,
    targetUserId: string,
    keyId: string,
  ): Promise<{ kind: SignedKeyKind; stored: JsonObject } | undefined> {
    const master = await this.store.crossSigningKey(targetUserId, 'master');
    const isMaster = master !== undefined && publicKeyOf(master) === keyId;
    if (targetUserId !== signerId) return isMaster ? { kind: 'other_master', stored: master } : undefined;
    if (isMaster) return { kind: 'own_master', stored: master };
    const device = await this.store.deviceKeys(targetUserId, keyId);
    return device ? { kind: 'own_device', stored: device } : undefined;
  }

  /** A valid signature on `signed` by the key of `signerId` allowed to sign a key of this kind (step 3 above). */
  private async allowedSignature(signerId: string, kind: SignedKeyKind, signed: JsonObject): Promise<{ keyId: string; value: string } | undefined> {
    const offered = (signed.signatures as JsonObject | undefined)?.[signerId];
    if (!isJsonObject(offered)) return undefined;
    const allowed: Array<{ keyId: string; publicKey: string }> = [];
    if (kind === 'own_master') {
      for (const keyId of Object.keys(offered)) {
        if (!keyId.startsWith('ed25519:')) continue;
        const device = await this.store.deviceKeys(signerId, keyId.slice('ed25519:'.length));
        const publicKey = device ? (device.keys as Record<string, string> | undefined)?.[keyId] : undefined;
        if (typeof publicKey === 'string') allowed.push({ keyId, publicKey });
      }
    } else {
      const key = await this.store.crossSigningKey(signerId, kind === 'own_device' ? 'self_signing' : 'user_signing');
      const publicKey = key ? publicKeyOf(key) : undefined;
      if (publicKey !== undefined) allowed.push({ keyId: `ed25519:${publicKey}`, publicKey });
    }
    for (const { keyId, publicKey } of allowed) {
      const value = offered[keyId];
      if (typeof value === 'string' && isSignedBy(signed, signerId, keyId, publicKey)) return { keyId, value };
    }
    return undefined;
  }

  /** The user's cross-signing keys with the signatures `viewerId` may see; the user-signing key only for the user themself. */
  async visibleKeys(userId: string, viewerId: string): Promise<VisibleCrossSigningKeys> {
    const out: VisibleCrossSigningKeys = {};
    const master = await this.store.crossSigningKey(userId, 'master');
    if (master) out.master = withVisibleSignatures(master, userId, viewerId);
    const selfSigning = await this.store.crossSigningKey(userId, 'self_signing');
    if (selfSigning) out.selfSigning = withVisibleSignatures(selfSigning, userId, viewerId);
    if (userId === viewerId) {
      const userSigning = await this.store.crossSigningKey(userId, 'user_signing');
      if (userSigning) out.userSigning = userSigning;
    }
    return out;
  }
}

/** The public key of a stored cross-signing key (its one `keys` entry). */
function publicKeyOf(key: JsonObject): string | undefined {
  const keys = key.keys;
  if (!isJsonObject(keys)) return undefined;
  const value = Object.values(keys)[0];
  return typeof value === 'string' ? value : undefined;
}
