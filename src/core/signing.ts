/**
 * ed25519 signing of JSON objects (appendices "Signing JSON", "Signing Details", "Checking for
 * a Signature").
 *
 * Uses node:crypto (OpenSSL), which benchmarked ~17x faster than @noble/curves for signing and
 * ~15x for verifying on this hardware (docs/crypto.md). OpenSSL wants KeyObjects, and building
 * one costs about as much as a verification, so KeyObjects are made once per key and cached.
 */
import { createPrivateKey, createPublicKey, randomBytes, randomInt, sign, verify, type KeyObject } from 'node:crypto';
import { decodeBase64, encodeUnpaddedBase64 } from './base64.js';
import { canonicalJson } from './canonical-json.js';
import { isJsonObject } from './json-object.js';
import type { SigningKey } from './types.js';

/** `signatures` as it appears on signed JSON: server name -> key id -> unpadded base64 signature. */
export type Signatures = Record<string, Record<string, string>>;

const ED25519_PREFIX = 'ed25519:';
const ED25519_SIGNATURE_BYTES = 64;
const ED25519_KEY_BYTES = 32;

// DER headers that wrap a raw 32-byte ed25519 key (RFC 8410): PKCS#8 private, SPKI public.
const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const SPKI_ED25519_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

/** Key ids use `[a-zA-Z0-9_]` after the algorithm (server-server keys.yaml). */
const KEY_ID_ALPHABET = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_';
const KEY_ID_LENGTH = 6;

/** A fresh signing key with a random key id such as `ed25519:Xk3_9a`. */
export function generateSigningKey(): SigningKey {
  let version = '';
  for (let i = 0; i < KEY_ID_LENGTH; i++) version += KEY_ID_ALPHABET[randomInt(KEY_ID_ALPHABET.length)];
  return signingKeyFromSeed(new Uint8Array(randomBytes(ED25519_KEY_BYTES)), ED25519_PREFIX + version);
}

/** The signing key for a 32-byte ed25519 seed (the form keys are stored and exchanged in). */
export function signingKeyFromSeed(seed: Uint8Array, keyId: string): SigningKey {
  if (seed.length !== ED25519_KEY_BYTES) throw new RangeError(`ed25519 seed must be ${ED25519_KEY_BYTES} bytes`);
  if (!keyId.startsWith(ED25519_PREFIX)) throw new RangeError(`key id must start with ${ED25519_PREFIX}`);
  const privateKey = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]), format: 'der', type: 'pkcs8' });
  const spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
  const key: SigningKey = {
    keyId,
    secretKey: Uint8Array.from(seed),
    publicKey: new Uint8Array(spki.subarray(spki.length - ED25519_KEY_BYTES)),
  };
  privateKeyObjects.set(key, privateKey);
  return key;
}

/** Sign raw bytes; returns the 64-byte signature. */
export function signBytes(message: Uint8Array, key: SigningKey): Uint8Array {
  const signature = sign(null, message, privateKeyObjectOf(key));
  return new Uint8Array(signature.buffer, signature.byteOffset, signature.byteLength);
}

/** Check a raw 64-byte signature. False (never a throw) for malformed keys or signatures. */
export function verifyBytes(message: Uint8Array, signature: Uint8Array, publicKey: Uint8Array): boolean {
  if (signature.length !== ED25519_SIGNATURE_BYTES || publicKey.length !== ED25519_KEY_BYTES) return false;
  try {
    return verify(null, message, publicKeyObjectOf(publicKey), signature);
  } catch {
    return false;
  }
}

/**
 * The canonical bytes a JSON signature covers: the object without `signatures` and `unsigned`
 * (appendices "Signing Details").
 */
export function signableBytes(object: object): Buffer {
  const { signatures: _signatures, unsigned: _unsigned, ...signable } = object as Record<string, unknown>;
  return Buffer.from(canonicalJson(signable), 'utf8');
}

/**
 * Sign a JSON object as `serverName` (appendices "Signing Details"): sign the canonical JSON of
 * the object minus `signatures` and `unsigned`, then add the signature under
 * `signatures[serverName][keyId]`, keeping every signature already there. Returns a new object.
 */
export function signJson<T extends object>(object: T, serverName: string, key: SigningKey): T & { signatures: Signatures } {
  const signature = encodeUnpaddedBase64(signBytes(signableBytes(object), key));
  return { ...object, signatures: addSignature((object as { signatures?: Signatures }).signatures, serverName, key.keyId, signature) };
}

/** A copy of `existing` with one more signature; neither `existing` nor its members are changed. */
export function addSignature(existing: Signatures | undefined, serverName: string, keyId: string, signature: string): Signatures {
  return { ...existing, [serverName]: { ...existing?.[serverName], [keyId]: signature } };
}

/**
 * Whether `object` carries a valid signature by `serverName` with `keyId` under `publicKey`
 * (appendices "Checking for a Signature", steps 1-7, for one already-looked-up key).
 */
export function verifyJsonSignature(object: object, serverName: string, keyId: string, publicKey: Uint8Array): boolean {
  // 1. The entity must have signed at all.
  const signatures = (object as { signatures?: unknown }).signatures;
  const byServer = isJsonObject(signatures) ? signatures[serverName] : undefined;
  if (!isJsonObject(byServer)) return false;
  // 2. Only ed25519 is understood.
  if (!keyId.startsWith(ED25519_PREFIX)) return false;
  // 3. (the caller looked the key up.) 4. Decode the signature.
  const encoded = byServer[keyId];
  if (typeof encoded !== 'string') return false;
  let signature: Uint8Array;
  let message: Buffer;
  try {
    signature = decodeBase64(encoded);
    // 5.-6. Strip `signatures` and `unsigned`, encode canonically (non-canonical JSON fails).
    message = signableBytes(object);
  } catch {
    return false;
  }
  // 7. Check the signature bytes.
  return verifyBytes(message, signature, publicKey);
}

// KeyObject caches. Private keys hang off the SigningKey object itself; public keys are keyed by
// their bytes (callers decode them from base64 afresh) in a bounded map, oldest evicted first.
const privateKeyObjects = new WeakMap<SigningKey, KeyObject>();
const publicKeyObjects = new Map<string, KeyObject>();
const PUBLIC_KEY_CACHE_SIZE = 1024;

function privateKeyObjectOf(key: SigningKey): KeyObject {
  let keyObject = privateKeyObjects.get(key);
  if (keyObject === undefined) {
    keyObject = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, key.secretKey]), format: 'der', type: 'pkcs8' });
    privateKeyObjects.set(key, keyObject);
  }
  return keyObject;
}

function publicKeyObjectOf(publicKey: Uint8Array): KeyObject {
  const cacheKey = Buffer.from(publicKey.buffer, publicKey.byteOffset, publicKey.byteLength).toString('base64');
  let keyObject = publicKeyObjects.get(cacheKey);
  if (keyObject === undefined) {
    keyObject = createPublicKey({ key: Buffer.concat([SPKI_ED25519_PREFIX, publicKey]), format: 'der', type: 'spki' });
    if (publicKeyObjects.size >= PUBLIC_KEY_CACHE_SIZE) {
      publicKeyObjects.delete(publicKeyObjects.keys().next().value!);
    }
    publicKeyObjects.set(cacheKey, keyObject);
  }
  return keyObject;
}
