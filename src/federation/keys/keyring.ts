/**
 * The server's own keys in memory (server-server "Publishing Keys"): the current signing key, which
 * signs events and requests, and the retired keys with the time they stopped being used, published
 * as `old_verify_keys` so that older events still verify. `publishedKeys` is the signed
 * `/_matrix/key/v2/server` body.
 */
import { encodeUnpaddedBase64 } from '../../core/base64.js';
import { signJson } from '../../core/signing.js';
import type { JsonObject, SigningKey } from '../../core/types.js';

export interface OldVerifyKey {
  keyId: string;
  publicKey: Uint8Array;
  /** When the key stopped being used (ms). */
  expiredTs: number;
}

/**
 * How long others may rely on the published key set without asking again. Room versions 5+ cap any
 * validity at 7 days from the fetch; publishing exactly that keeps a gateway that cannot be reached
 * (NAT, outages) verifiable for as long as the rules allow. A rotation is seen by peers at their
 * next fetch; the retired key stays valid for events up to its `expired_ts`.
 */
export const PUBLISHED_KEY_VALIDITY_MS = 7 * 24 * 3600 * 1000;

export class ServerKeyring {
  constructor(
    readonly serverName: string,
    readonly current: SigningKey,
    readonly old: readonly OldVerifyKey[],
  ) {}

  /** One of our keys by id: the current one (no expiry) or a retired one. */
  keyById(keyId: string): { publicKey: Uint8Array; expiredTs?: number } | undefined {
    if (keyId === this.current.keyId) return { publicKey: this.current.publicKey };
    const old = this.old.find((k) => k.keyId === keyId);
    return old && { publicKey: old.publicKey, expiredTs: old.expiredTs };
  }

  /** The signed key set of `GET /_matrix/key/v2/server`, valid for a week from `nowMs`. */
  publishedKeys(nowMs: number): JsonObject {
    const oldVerifyKeys: JsonObject = {};
    for (const k of this.old) oldVerifyKeys[k.keyId] = { key: encodeUnpaddedBase64(k.publicKey), expired_ts: k.expiredTs };
    return signJson(
      {
        server_name: this.serverName,
        verify_keys: { [this.current.keyId]: { key: encodeUnpaddedBase64(this.current.publicKey) } },
        old_verify_keys: oldVerifyKeys,
        valid_until_ts: nowMs + PUBLISHED_KEY_VALIDITY_MS,
      },
      this.serverName,
      this.current,
    ) as unknown as JsonObject;
  }

  /** Adds our signature to a JSON object (a notary response, a request's JSON). */
  sign<T extends object>(object: T): T {
    return signJson(object, this.serverName, this.current);
  }
}
