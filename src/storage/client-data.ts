/**
 * Per-user client data: account data (client-server-api "Client Config") and stored filters
 * ("Filtering"). Key layouts are those of the catalog (keyspaces.ts: account_data, filters).
 */
import type { JsonObject } from '../core/types.js';
import type { BatchOp, Database } from './db.js';
import { decodeJson, prefixRange, splitStrings, tuple } from './codec.js';

/** `roomId` is '' for global account data. */
export interface AccountDataEntry {
  roomId: string;
  type: string;
  content: JsonObject;
  /** The stream position of the last change. */
  stream: number;
}

export class AccountDataStore {
  constructor(private readonly db: Database) {}

  async get(userId: string, roomId: string, type: string): Promise<AccountDataEntry | undefined> {
    const v = await this.db.getJson<{ content: JsonObject; stream: number }>('accountData', tuple(userId, roomId, type));
    return v === undefined ? undefined : { roomId, type, ...v };
  }

  putTxn(ops: BatchOp[], userId: string, entry: AccountDataEntry): void {
    ops.push(this.db.putJson('accountData', tuple(userId, entry.roomId, entry.type), { content: entry.content, stream: entry.stream }));
  }

  /** Every entry of a user, global ones ('' room) first. */
  async listForUser(userId: string): Promise<AccountDataEntry[]> {
    const out: AccountDataEntry[] = [];
    for await (const [key, value] of this.db.space('accountData').iterator(prefixRange(tuple(userId)))) {
      const [, roomId, type] = splitStrings(key, 3).strings as [string, string, string];
      out.push({ roomId, type, ...decodeJson<{ content: JsonObject; stream: number }>(value) });
    }
    return out;
  }
}

export class FilterStore {
  constructor(private readonly db: Database) {}

  get(userId: string, filterId: string): Promise<JsonObject | undefined> {
    return this.db.getJson<JsonObject>('filters', tuple(userId, filterId));
  }

  async put(userId: string, filterId: string, filter: JsonObject): Promise<void> {
    await this.db.write([this.db.putJson('filters', tuple(userId, filterId), filter)]);
  }
}
