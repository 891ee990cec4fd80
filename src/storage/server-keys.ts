/**
 * Other servers' signing keys (server-server "Retrieving server keys"), two key spaces:
 * - `server_keys`: `str server_name ‖ str key_id` -> json ServerKeyRecord, one per key ever seen,
 *   so that a key the server has since retired still verifies the events it signed;
 * - `server_key_responses`: `str server_name` -> json { fetchedTs, response }, the latest key set
 *   the server signed, kept as received so that we can serve it again as a notary.
 * Server names hold no NUL, so the tuple keys are unambiguous.
 */
import type { JsonObject } from '../core/types.js';
import { tuple } from './codec.js';
import type { BatchOp, Database } from './db.js';

export interface ServerKeyRecord {
  /** Unpadded base64 ed25519 public key. */
  key: string;
  /** From `verify_keys`: the response's `valid_until_ts` (the latest seen for this key). */
  validUntilTs?: number;
  /** From `old_verify_keys`: when the server stopped using the key. */
  expiredTs?: number;
  /** When we last received this key (the 7-day cap of room versions 5+ counts from here). */
  fetchedTs: number;
}

export interface StoredKeyResponse {
  fetchedTs: number;
  response: JsonObject;
}

export class ServerKeyStore {
  constructor(private readonly db: Database) {}

  async getKey(serverName: string, keyId: string): Promise<ServerKeyRecord | undefined> {
    return this.db.getJson<ServerKeyRecord>('serverKeys', tuple(serverName, keyId));
  }

  async getResponse(serverName: string): Promise<StoredKeyResponse | undefined> {
    return this.db.getJson<StoredKeyResponse>('serverKeyResponses', tuple(serverName));
  }

  /** Stores a verified key set: its keys and the response itself, in one batch. */
  async putKeySet(serverName: string, keys: ReadonlyMap<string, ServerKeyRecord>, response: StoredKeyResponse): Promise<void> {
    const ops: BatchOp[] = [];
    for (const [keyId, record] of keys) ops.push(this.db.putJson('serverKeys', tuple(serverName, keyId), record));
    ops.push(this.db.putJson('serverKeyResponses', tuple(serverName), response));
    await this.db.write(ops);
  }
}
