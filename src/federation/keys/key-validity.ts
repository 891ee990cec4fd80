/**
 * Judging other servers' keys, pure (no I/O):
 * - `checkKeyResponse`: whether a `/_matrix/key/v2/server` body (fetched directly or relayed by a
 *   notary) is well-formed, names the server we asked about, and is signed by that server with one
 *   of the keys it lists (server-server "Publishing Keys", keys.yaml); its keys as records;
 * - `isKeyValidAt`: whether a known key may verify a signature made at a given time (server-server
 *   "Validating hashes and signatures on received events"; rooms/v5 "Signing key validity period").
 */
import { decodeBase64 } from '../../core/base64.js';
import { isJsonObject } from '../../core/json-object.js';
import { verifyJsonSignature } from '../../core/signing.js';
import type { JsonObject } from '../../core/types.js';

/** Room versions 5+: a key is never trusted beyond 7 days after we received it, whatever it claims. */
export const MAX_KEY_VALIDITY_MS = 7 * 24 * 3600 * 1000;
/** A key set listing more keys than this is refused: nobody needs it, and each key is stored. */
export const MAX_KEYS_PER_RESPONSE = 32;

const KEY_ID = /^ed25519:[a-zA-Z0-9_]{1,64}$/;
const ED25519_KEY_BYTES = 32;

/** One key of a server as we keep it (the value of the `server_keys` key space). */
export interface KeyRecord {
  key: string;
  validUntilTs?: number;
  expiredTs?: number;
  fetchedTs: number;
}

export type KeyResponseCheck = { ok: true; keys: Map<string, KeyRecord>; validUntilTs: number } | { ok: false; reason: string };

/**
 * Checks a key set for `serverName` received at `fetchedTs`:
 * 1. it is an object whose `server_name` is the server asked about (a server cannot vouch for another);
 * 2. `verify_keys` and `old_verify_keys` map ed25519 key ids to 32-byte unpadded base64 keys, old ones
 *    with an integer `expired_ts`; `valid_until_ts` is an integer;
 * 3. it carries the server's signature by at least one of its `verify_keys`, and every signature of
 *    the server by a key it lists verifies (a set signed by a key it does not list proves nothing).
 * Keys of algorithms other than ed25519 are skipped, as the appendix's "Checking for a Signature" does.
 */
export function checkKeyResponse(serverName: string, response: unknown, fetchedTs: number): KeyResponseCheck {
  if (!isJsonObject(response)) return { ok: false, reason: 'key response is not an object' };
  if (response.server_name !== serverName) return { ok: false, reason: `key response is for ${String(response.server_name)}, not ${serverName}` };
  const validUntilTs = response.valid_until_ts;
  if (typeof validUntilTs !== 'number' || !Number.isSafeInteger(validUntilTs)) return { ok: false, reason: 'valid_until_ts is not an integer' };
  if (!isJsonObject(response.verify_keys)) return { ok: false, reason: 'verify_keys is not an object' };
  const oldKeys = response.old_verify_keys ?? {};
  if (!isJsonObject(oldKeys)) return { ok: false, reason: 'old_verify_keys is not an object' };
  if (Object.keys(response.verify_keys).length + Object.keys(oldKeys).length > MAX_KEYS_PER_RESPONSE) {
    return { ok: false, reason: 'key response lists too many keys' };
  }

  const keys = new Map<string, KeyRecord>();
  const current = new Map<string, Uint8Array>();
  for (const [keyId, entry] of Object.entries(response.verify_keys)) {
    if (!keyId.startsWith('ed25519:')) continue;
    const publicKey = publicKeyOf(keyId, entry);
    if (!publicKey) return { ok: false, reason: `verify_keys.${keyId} is not an ed25519 key` };
    current.set(keyId, publicKey);
    keys.set(keyId, { key: (entry as JsonObject).key as string, validUntilTs, fetchedTs });
  }
  for (const [keyId, entry] of Object.entries(oldKeys)) {
    if (!keyId.startsWith('ed25519:') || current.has(keyId)) continue;
    const publicKey = publicKeyOf(keyId, entry);
    const expiredTs = isJsonObject(entry) ? entry.expired_ts : undefined;
    if (!publicKey || typeof expiredTs !== 'number' || !Number.isSafeInteger(expiredTs)) {
      return { ok: false, reason: `old_verify_keys.${keyId} is not an ed25519 key with expired_ts` };
    }
    keys.set(keyId, { key: (entry as JsonObject).key as string, expiredTs, fetchedTs });
  }

  const signatures = isJsonObject(response.signatures) ? response.signatures[serverName] : undefined;
  if (!isJsonObject(signatures)) return { ok: false, reason: `key response is not signed by ${serverName}` };
  let signedByListedKey = false;
  for (const keyId of Object.keys(signatures)) {
    const publicKey = current.get(keyId);
    if (!publicKey) continue;
    if (!verifyJsonSignature(response, serverName, keyId, publicKey)) return { ok: false, reason: `bad signature by ${serverName} ${keyId}` };
    signedByListedKey = true;
  }
  if (!signedByListedKey) return { ok: false, reason: `key response is not signed by any of ${serverName}'s verify_keys` };
  return { ok: true, keys, validUntilTs };
}

function publicKeyOf(keyId: string, entry: unknown): Uint8Array | undefined {
  if (!KEY_ID.test(keyId) || !isJsonObject(entry) || typeof entry.key !== 'string') return undefined;
  try {
    const bytes = decodeBase64(entry.key);
    return bytes.length === ED25519_KEY_BYTES ? bytes : undefined;
  } catch {
    return undefined;
  }
}

/** The latest time a signature by this key counts, or undefined for "no limit". */
export function keyValidUntil(record: KeyRecord, enforceValidUntil: boolean): number | undefined {
  // A retired key counts for what it signed before it expired, in every room version.
  if (record.expiredTs !== undefined) return record.expiredTs;
  // Room versions 1-4 ignore valid_until_ts ("This field MUST be ignored in room versions 1, 2, 3, and 4").
  if (!enforceValidUntil) return undefined;
  // "Servers MUST use the lesser of this field and 7 days into the future."
  return Math.min(record.validUntilTs ?? record.fetchedTs, record.fetchedTs + MAX_KEY_VALIDITY_MS);
}

/**
 * Whether a signature made at `atTs` (an event's `origin_server_ts`, or now for a request) may be
 * checked with this key. `enforceValidUntil` is the room version's rule (v5+), always true for
 * requests: keys "known to have expired prior to the event's origin_server_ts are ignored".
 */
export function isKeyValidAt(record: KeyRecord, atTs: number, enforceValidUntil: boolean): boolean {
  const until = keyValidUntil(record, enforceValidUntil);
  return until === undefined || atTs <= until;
}
