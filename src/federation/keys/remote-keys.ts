/**
 * Other servers' signing keys (server-server "Retrieving server keys"): looked up in a bounded
 * memory cache, then LevelDB (`storage/server-keys.ts`), then fetched, through the configured
 * notaries (`trusted_key_servers`, "Querying Keys Through Another Server") and from the server
 * itself (`GET /_matrix/key/v2/server`, "Publishing Keys"). Every key set is checked before use
 * (`key-validity.ts`: the server's own signature, the right `server_name`; a notary's signature
 * too) and judged at the time of the signature in question (an event's `origin_server_ts`, or now
 * for a request).
 *
 * A stranger decides which server names and key ids we look up, so: one fetch per server at a time
 * (concurrent lookups share it), at most one attempt per server every `MIN_REFETCH_MS` (unknown key
 * ids and unreachable servers cannot make us hammer anyone), a cap on fetches in flight, and bounded
 * caches.
 *
 * It also answers as a notary (`query`): the latest key set each server signed, countersigned by us.
 */
import type { Logger } from 'pino';
import { decodeBase64 } from '../../core/base64.js';
import { isJsonObject } from '../../core/json-object.js';
import type { RoomVersionRules } from '../../core/room-versions.js';
import { verifyJsonSignature } from '../../core/signing.js';
import type { JsonObject } from '../../core/types.js';
import type { TrustedKeyServer } from '../../config/config.js';
import { LruCache } from '../../storage/lru.js';
import type { ServerKeyStore } from '../../storage/server-keys.js';
import type { FederationRequestOptions } from '../transport/client.js';
import { checkKeyResponse, isKeyValidAt, type KeyRecord } from './key-validity.js';
import type { ServerKeyring } from './keyring.js';

/** Fewer fetches than this apart per server: a lookup in between answers from what we have. */
export const MIN_REFETCH_MS = 30_000;
/** Servers whose keys are being fetched at once; lookups beyond this fail fast (unknown key). */
const MAX_FETCHES_IN_FLIGHT = 32;
const KEY_CACHE_ENTRIES = 2048;
const ATTEMPT_CACHE_ENTRIES = 4096;
const KEY_FETCH_TIMEOUT_MS = 15_000;
const KEY_RESPONSE_MAX_BYTES = 64 * 1024;
const NOTARY_RESPONSE_MAX_BYTES = 1024 * 1024;

export interface RemoteKeysOptions {
  keyring: ServerKeyring;
  store: Pick<ServerKeyStore, 'getKey' | 'getResponse' | 'putKeySet'>;
  /** Requests to other servers (the federation client). */
  client: { request(req: FederationRequestOptions): Promise<unknown> };
  trustedKeyServers: readonly TrustedKeyServer[];
  now?: () => number;
  log?: Pick<Logger, 'debug' | 'info' | 'warn'>;
  /** Throws (503) while our clock is wrong: a key "valid now" cannot be judged then. */
  clock?: { assertSane(): void };
}

export class RemoteKeyService {
  private readonly keys = new LruCache<string, KeyRecord>(KEY_CACHE_ENTRIES);
  private readonly lastAttempt = new LruCache<string, number>(ATTEMPT_CACHE_ENTRIES);
  private readonly inFlight = new Map<string, Promise<void>>();
  private readonly now: () => number;
  private readonly serverName: string;

  constructor(private readonly opts: RemoteKeysOptions) {
    this.now = opts.now ?? Date.now;
    this.serverName = opts.keyring.serverName;
  }

  /**
   * `ServerKeyLookup` of the event pipeline: the key `keyId` of `serverName` if it may verify a
   * signature made at `atTs` (the event's `origin_server_ts`) under the room version's rules.
   */
  publicKey(serverName: string, keyId: string, atTs: number, rules: Pick<RoomVersionRules, 'enforceKeyValidity'>): Promise<Uint8Array | undefined> {
    return this.verifyKey(serverName, keyId, atTs, rules.enforceKeyValidity);
  }

  /**
   * The public key if it was valid at `atTs`: a current key within `valid_until_ts` (capped at 7
   * days from its fetch; ignored when `enforceValidUntil` is false, room versions 1-4), or a retired
   * key before its `expired_ts`. Fetches when we know no such key. Undefined otherwise.
   */
  async verifyKey(serverName: string, keyId: string, atTs: number, enforceValidUntil = true): Promise<Uint8Array | undefined> {
    if (serverName === this.serverName) {
      const own = this.opts.keyring.keyById(keyId);
      if (!own) return undefined;
      return own.expiredTs === undefined || atTs <= own.expiredTs ? own.publicKey : undefined;
    }
    let record = await this.cachedKey(serverName, keyId);
    if (record && isKeyValidAt(record, atTs, enforceValidUntil)) return decodeBase64(record.key);
    // A retired key stays retired: asking again cannot make it valid later.
    if (record?.expiredTs !== undefined) return undefined;
    await this.fetch(serverName, keyId, atTs);
    record = await this.cachedKey(serverName, keyId);
    return record && isKeyValidAt(record, atTs, enforceValidUntil) ? decodeBase64(record.key) : undefined;
  }

  /**
   * The key for an X-Matrix request signed now: only a current key (`verify_keys`) counts;
   * `old_verify_keys` "are only valid for signing events".
   */
  async requestKey(serverName: string, keyId: string): Promise<Uint8Array | undefined> {
    if (serverName === this.serverName) return undefined; // we never send requests to ourselves
    this.opts.clock?.assertSane();
    const now = this.now();
    const usable = (r: KeyRecord | undefined) => r !== undefined && r.expiredTs === undefined && isKeyValidAt(r, now, true);
    let record = await this.cachedKey(serverName, keyId);
    if (!usable(record)) {
      await this.fetch(serverName, keyId, now);
      record = await this.cachedKey(serverName, keyId);
    }
    return usable(record) ? decodeBase64(record!.key) : undefined;
  }

  /**
   * As a notary: `serverName`'s latest signed key set, countersigned by us; refreshed first when it
   * expires before `minimumValidUntilTs`. The last one we have when the server cannot be reached
   * (keys_server.yaml: so that old events can still be checked); [] when we never had one.
   */
  async query(serverName: string, minimumValidUntilTs: number): Promise<JsonObject[]> {
    if (serverName === this.serverName) return [this.opts.keyring.publishedKeys(this.now())];
    let stored = await this.opts.store.getResponse(serverName);
    if (!stored || (stored.response.valid_until_ts as number) < minimumValidUntilTs) {
      await this.fetch(serverName, undefined, minimumValidUntilTs, { directOnly: true });
      stored = await this.opts.store.getResponse(serverName);
    }
    return stored ? [this.opts.keyring.sign(stored.response)] : [];
  }

  private async cachedKey(serverName: string, keyId: string): Promise<KeyRecord | undefined> {
    const cacheKey = `${serverName}\u0000${keyId}`;
    let record = this.keys.get(cacheKey);
    if (record === undefined) {
      record = await this.opts.store.getKey(serverName, keyId);
      if (record !== undefined) this.keys.set(cacheKey, record);
    }
    return record;
  }

  /** One fetch per server at a time, at most one every MIN_REFETCH_MS, at most MAX_FETCHES_IN_FLIGHT. */
  private fetch(serverName: string, keyId: string | undefined, minimumValidUntilTs: number, opts: { directOnly?: boolean } = {}): Promise<void> {
    const running = this.inFlight.get(serverName);
    if (running) return running;
    const last = this.lastAttempt.get(serverName);
    if (last !== undefined && this.now() - last < MIN_REFETCH_MS) return Promise.resolve();
    if (this.inFlight.size >= MAX_FETCHES_IN_FLIGHT) return Promise.resolve();
    this.lastAttempt.set(serverName, this.now());
    const fetching = this.fetchFromSources(serverName, keyId, minimumValidUntilTs, opts.directOnly === true).finally(() => this.inFlight.delete(serverName));
    this.inFlight.set(serverName, fetching);
    return fetching;
  }

  /**
   * Notaries first, in the configured order (Synapse's order too: one notary answers for servers
   * that are offline), then the server itself. Stops at the first verified key set holding the key
   * wanted (or any verified set when no key id is wanted). Failures are logged, never thrown.
   */
  private async fetchFromSources(serverName: string, keyId: string | undefined, minimumValidUntilTs: number, directOnly: boolean): Promise<void> {
    if (!directOnly) {
      for (const notary of this.opts.trustedKeyServers) {
        if (notary.serverName === serverName || notary.serverName === this.serverName) continue;
        try {
          if (await this.fetchViaNotary(serverName, keyId, minimumValidUntilTs, notary)) return;
        } catch (err) {
          this.opts.log?.debug({ serverName, notary: notary.serverName, err: (err as Error).message }, 'key query through notary failed');
        }
      }
    }
    try {
      await this.fetchDirect(serverName);
    } catch (err) {
      this.opts.log?.debug({ serverName, err: (err as Error).message }, 'key fetch failed');
    }
  }

  /** `GET /_matrix/key/v2/server` from the server itself. */
  private async fetchDirect(serverName: string): Promise<void> {
    const response = await this.opts.client.request({
      method: 'GET',
      destination: serverName,
      path: '/_matrix/key/v2/server',
      timeoutMs: KEY_FETCH_TIMEOUT_MS,
      maxResponseBytes: KEY_RESPONSE_MAX_BYTES,
    });
    const fetchedTs = this.now();
    const check = checkKeyResponse(serverName, response, fetchedTs);
    if (!check.ok) throw new Error(check.reason);
    await this.remember(serverName, check.keys, response as JsonObject, fetchedTs);
  }

  /** `POST /_matrix/key/v2/query` on a notary; true when it gave a verified set with the key wanted. */
  private async fetchViaNotary(serverName: string, keyId: string | undefined, minimumValidUntilTs: number, notary: TrustedKeyServer): Promise<boolean> {
    const criteria = keyId === undefined ? {} : { [keyId]: { minimum_valid_until_ts: minimumValidUntilTs } };
    const answer = await this.opts.client.request({
      method: 'POST',
      destination: notary.serverName,
      path: '/_matrix/key/v2/query',
      body: { server_keys: { [serverName]: criteria } },
      timeoutMs: KEY_FETCH_TIMEOUT_MS,
      maxResponseBytes: NOTARY_RESPONSE_MAX_BYTES,
    });
    if (!isJsonObject(answer) || !Array.isArray(answer.server_keys)) throw new Error('notary answer has no server_keys list');
    let found = false;
    for (const entry of answer.server_keys) {
      const fetchedTs = this.now();
      const check = checkKeyResponse(serverName, entry, fetchedTs);
      if (!check.ok) continue;
      if (!(await this.signedByNotary(entry as JsonObject, notary))) continue;
      await this.remember(serverName, check.keys, entry as JsonObject, fetchedTs);
      if (keyId === undefined || check.keys.has(keyId)) found = true;
    }
    return found;
  }

  /** The notary's own signature on a relayed key set, by a configured key or one fetched from it. */
  private async signedByNotary(entry: JsonObject, notary: TrustedKeyServer): Promise<boolean> {
    const signatures = isJsonObject(entry.signatures) ? entry.signatures[notary.serverName] : undefined;
    if (!isJsonObject(signatures)) return false;
    for (const keyId of Object.keys(signatures)) {
      let publicKey: Uint8Array | undefined;
      const configured = notary.verifyKeys[keyId];
      if (configured !== undefined) {
        try {
          publicKey = decodeBase64(configured);
        } catch {
          continue;
        }
      } else if (Object.keys(notary.verifyKeys).length === 0) {
        publicKey = await this.verifyKey(notary.serverName, keyId, this.now());
      }
      if (publicKey && verifyJsonSignature(entry, notary.serverName, keyId, publicKey)) return true;
    }
    return false;
  }

  /** Merges a verified key set into what we know (the longest validity seen wins) and stores it. */
  private async remember(serverName: string, fetched: Map<string, KeyRecord>, response: JsonObject, fetchedTs: number): Promise<void> {
    const merged = new Map<string, KeyRecord>();
    for (const [keyId, record] of fetched) {
      const known = await this.cachedKey(serverName, keyId);
      let next = record;
      if (known && known.key === record.key && record.validUntilTs !== undefined && known.validUntilTs !== undefined && known.validUntilTs > record.validUntilTs) {
        // A notary's older copy must not shorten what the server itself told us.
        next = { ...record, validUntilTs: known.validUntilTs, fetchedTs: known.fetchedTs };
      }
      merged.set(keyId, next);
    }
    const stored = await this.opts.store.getResponse(serverName);
    const newer = !stored || (response.valid_until_ts as number) >= (stored.response.valid_until_ts as number);
    await this.opts.store.putKeySet(serverName, merged, newer ? { fetchedTs, response } : stored);
    for (const [keyId, record] of merged) this.keys.set(`${serverName}\u0000${keyId}`, record);
  }
}
