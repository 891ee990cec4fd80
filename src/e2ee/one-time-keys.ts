/**
 * One-time and fallback keys (client-server-api "One-time and fallback keys", `/keys/upload`,
 * `/keys/claim`). Every function here reads and then writes one device's keys: the caller holds
 * that device's lock (E2eeService) so two claims can never hand out the same key.
 */
import type { BatchOp, Database } from '../storage/db.js';
import type { E2eeKeyStore, KeyObject } from '../storage/e2ee.js';
import { invalidParam } from '../core/errors.js';
import { sameJson } from './signatures.js';

export type UploadedKeys = Map<string, { algorithm: string; keyId: string; key: KeyObject }>;

/**
 * Olm's one-time key algorithm. Its count is always reported, zero included: clients (the Rust
 * crypto of matrix-js-sdk among them) only top up keys for an algorithm whose count they are told,
 * so an omitted zero would leave a device without keys to claim.
 */
const OLM_ONE_TIME_KEY_ALGORITHM = 'signed_curve25519';

export class OneTimeKeys {
  constructor(
    private readonly db: Database,
    private readonly store: E2eeKeyStore,
  ) {}

  /**
   * Adds uploaded one-time keys to the batch. A key id already held with the same key is ignored
   * (a retried upload); with a different key it is refused, since a client that reuses a key id
   * for another key could no longer tell which private key a claimer used.
   */
  async addTxn(ops: BatchOp[], userId: string, deviceId: string, uploaded: UploadedKeys): Promise<void> {
    if (uploaded.size === 0) return;
    const held = new Map((await this.store.oneTimeKeys(userId, deviceId)).map((k) => [k.keyName, k]));
    // Keys are claimed in upload order (keys.yaml `/keys/claim`): number this upload after all held ones.
    const upload = Math.max(0, ...[...held.values()].map((k) => k.upload)) + 1;
    for (const [keyName, { key }] of uploaded) {
      const existing = held.get(keyName);
      if (existing) {
        if (!sameJson(existing.key, key)) throw invalidParam(`One-time key ${keyName} already exists with a different value`);
        continue;
      }
      this.store.putOneTimeKeyTxn(ops, userId, deviceId, keyName, { key, upload });
    }
  }

  /**
   * Replaces fallback keys (keys.yaml `fallback_keys`: at most one per algorithm, one kept per
   * algorithm). Re-uploading the key already held keeps its `used` mark: it has still been given out.
   */
  async addFallbackTxn(ops: BatchOp[], userId: string, deviceId: string, uploaded: UploadedKeys): Promise<void> {
    const byAlgorithm = new Map<string, { keyId: string; key: KeyObject }>();
    for (const { algorithm, keyId, key } of uploaded.values()) {
      if (byAlgorithm.has(algorithm)) throw invalidParam(`Only one fallback key per algorithm may be uploaded (${algorithm})`);
      byAlgorithm.set(algorithm, { keyId, key });
    }
    for (const [algorithm, { keyId, key }] of byAlgorithm) {
      const existing = await this.store.fallbackKey(userId, deviceId, algorithm);
      const unchanged = existing !== undefined && existing.keyId === keyId && sameJson(existing.key, key);
      this.store.putFallbackKeyTxn(ops, userId, deviceId, algorithm, { keyId, key, used: unchanged && existing.used });
    }
  }

  /** Unclaimed one-time keys per algorithm (`one_time_key_counts`, `device_one_time_keys_count`). */
  async counts(userId: string, deviceId: string): Promise<Record<string, number>> {
    const counts: Record<string, number> = { [OLM_ONE_TIME_KEY_ALGORITHM]: 0 };
    for (const { keyName } of await this.store.oneTimeKeys(userId, deviceId)) {
      const algorithm = keyName.slice(0, keyName.indexOf(':'));
      counts[algorithm] = (counts[algorithm] ?? 0) + 1;
    }
    return counts;
  }

  /** Algorithms with a fallback key no claim has handed out yet (`device_unused_fallback_key_types`). */
  async unusedFallbackTypes(userId: string, deviceId: string): Promise<string[]> {
    const out: string[] = [];
    for (const [algorithm, key] of await this.store.fallbackKeysOfDevice(userId, deviceId)) if (!key.used) out.push(algorithm);
    return out;
  }

  /**
   * Claims a key of `algorithm` from a device (keys.yaml `/keys/claim`):
   *  1. the one-time key of the oldest upload is removed and returned;
   *  2. with none left, the fallback key is returned and marked used (it stays, until replaced);
   *  3. with neither, nothing.
   */
  async claim(userId: string, deviceId: string, algorithm: string): Promise<{ keyName: string; key: KeyObject } | undefined> {
    // 1.
    const candidates = await this.store.oneTimeKeys(userId, deviceId, algorithm);
    if (candidates.length > 0) {
      const oldest = candidates.reduce((a, b) => (b.upload < a.upload ? b : a));
      const ops: BatchOp[] = [];
      this.store.delOneTimeKeyTxn(ops, userId, deviceId, oldest.keyName);
      await this.db.write(ops);
      return { keyName: oldest.keyName, key: oldest.key };
    }
    // 2.
    const fallback = await this.store.fallbackKey(userId, deviceId, algorithm);
    if (fallback) {
      if (!fallback.used) {
        const ops: BatchOp[] = [];
        this.store.putFallbackKeyTxn(ops, userId, deviceId, algorithm, { ...fallback, used: true });
        await this.db.write(ops);
      }
      return { keyName: `${algorithm}:${fallback.keyId}`, key: fallback.key };
    }
    // 3.
    return undefined;
  }
}
