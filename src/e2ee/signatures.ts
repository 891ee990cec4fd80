/**
 * Signature checks on E2EE key objects (appendices "Signing JSON"; client-server-api "Uploading
 * keys", "Cross-signing"). Pure functions over already-parsed objects.
 */
import type { JsonObject } from '../core/types.js';
import { isJsonObject } from '../core/json-object.js';
import { decodeBase64 } from '../core/base64.js';
import { canonicalJson } from '../core/canonical-json.js';
import { signableBytes, verifyJsonSignature } from '../core/signing.js';
import type { DeviceKeys } from './validation.js';

const ED25519_KEY_BYTES = 32;

/** Decodes an unpadded-base64 ed25519 public key; undefined if it is not one. */
function decodeEd25519PublicKey(encoded: string): Uint8Array | undefined {
  try {
    const bytes = decodeBase64(encoded);
    return bytes.length === ED25519_KEY_BYTES ? bytes : undefined;
  } catch {
    return undefined;
  }
}

/** Whether `object` carries a valid signature of `signerUserId`'s key `keyId` (`ed25519:...`) with this public key. */
export function isSignedBy(object: object, signerUserId: string, keyId: string, publicKeyBase64: string): boolean {
  const publicKey = decodeEd25519PublicKey(publicKeyBase64);
  return publicKey !== undefined && verifyJsonSignature(object, signerUserId, keyId, publicKey);
}

/** The device's own ed25519 key (`keys["ed25519:<device_id>"]`). */
function deviceSigningKey(keys: DeviceKeys): string | undefined {
  return keys.keys[`ed25519:${keys.device_id}`];
}

/**
 * "Uploading keys": device keys must include the device's ed25519 key and be signed by it, under
 * the owner's user id with key id `ed25519:<device_id>`.
 */
export function isSelfSignedDeviceKeys(keys: DeviceKeys): boolean {
  const publicKey = deviceSigningKey(keys);
  return publicKey !== undefined && isSignedBy(keys, keys.user_id, `ed25519:${keys.device_id}`, publicKey);
}

/** Whether two key objects are the same key: equal once `signatures` and `unsigned` are set aside. */
export function sameSignedContent(a: object, b: object): boolean {
  return signableBytes(a).equals(signableBytes(b));
}

/** Whether two JSON values are equal (canonical JSON comparison). */
export function sameJson(a: unknown, b: unknown): boolean {
  return canonicalJson(a) === canonicalJson(b);
}

/**
 * "Key and signature security": a viewer sees the signatures made by the key owner (devices,
 * master, self-signing keys) and those made by the viewer themself (their user-signing key on the
 * owner's master key); signatures by third parties' user-signing keys are withheld.
 */
export function withVisibleSignatures<T extends JsonObject>(object: T, ownerUserId: string, viewerUserId: string): T {
  const signatures = object.signatures;
  if (!isJsonObject(signatures)) return object;
  const visible: JsonObject = {};
  for (const [signer, bySigner] of Object.entries(signatures)) {
    if (signer === ownerUserId || signer === viewerUserId) visible[signer] = bySigner;
  }
  return { ...object, signatures: visible };
}

/** A copy of `target` with more signatures by `signer` (every existing signature is kept). */
export function mergeSignatures<T extends JsonObject>(target: T, signer: string, newSignatures: Record<string, string>): T {
  const existing = (target.signatures ?? {}) as Record<string, Record<string, string>>;
  return { ...target, signatures: { ...existing, [signer]: { ...existing[signer], ...newSignatures } } };
}
