/**
 * Server-side key backups (client-server "Server-side key backups"): per user, numbered backup
 * versions, each holding encrypted Megolm session keys by room and session. The server never
 * decrypts anything; it keeps the better of two copies of a session key by the spec's rule and
 * tells clients when the backup changed (`etag`) and how many keys it holds (`count`).
 *
 * Layout (docs/storage.md): `e2e_room_key_versions` `str user ‖ u32 version` -> the version's
 * algorithm, auth_data, count and etag (a deleted version stays as `{deleted: true}` so its number
 * is never handed out again); `e2e_room_keys` `str user ‖ u32 version ‖ str room ‖ str session`
 * -> the key. One user's changes run one at a time, so count and etag move with the keys in one batch.
 */
import type { Json, JsonObject } from '../core/types.js';
import { ErrCode, MatrixError, notFound } from '../core/errors.js';
import type { BatchOp, Database } from '../storage/db.js';
import { decodeJson, prefixRange, readU32, splitStrings, tuple, u32 } from '../storage/codec.js';
import { KeyedLock } from '../util/keyed-lock.js';
import { isJsonObject } from '../core/json-object.js';

/** One backed-up session key (the spec's KeyBackupData). */
export interface KeyBackupData {
  first_message_index: number;
  forwarded_count: number;
  is_verified: boolean;
  session_data: JsonObject;
}

interface VersionRecord {
  algorithm: string;
  authData: JsonObject;
  count: number;
  /** Changes whenever the keys do; opaque to clients. */
  etag: number;
  deleted?: boolean;
}

export interface BackupVersionInfo {
  algorithm: string;
  auth_data: JsonObject;
  count: number;
  etag: string;
  version: string;
}

/** room id -> session id -> key. */
export type RoomKeys = Record<string, Record<string, KeyBackupData>>;

/**
 * The spec's rule for two copies of one session key: the verified one; else the one that decrypts
 * from an earlier message; else the one forwarded fewer times. True when `candidate` should replace `current`.
 */
export function isBetterKey(candidate: KeyBackupData, current: KeyBackupData): boolean {
  if (candidate.is_verified !== current.is_verified) return candidate.is_verified;
  if (candidate.first_message_index !== current.first_message_index) return candidate.first_message_index < current.first_message_index;
  return candidate.forwarded_count < current.forwarded_count;
}

export function parseKeyBackupData(value: unknown, where: string): KeyBackupData {
  const bad = (what: string) => new MatrixError(400, ErrCode.BAD_JSON, `${where}: ${what}`);
  if (!isJsonObject(value as Json)) throw bad('must be an object');
  const v = value as JsonObject;
  for (const field of ['first_message_index', 'forwarded_count'] as const) {
    if (typeof v[field] !== 'number' || !Number.isInteger(v[field]) || (v[field] as number) < 0) throw bad(`${field} must be a non-negative integer`);
  }
  if (typeof v.is_verified !== 'boolean') throw bad('is_verified must be a boolean');
  if (!isJsonObject(v.session_data as Json)) throw bad('session_data must be an object');
  return {
    first_message_index: v.first_message_index as number,
    forwarded_count: v.forwarded_count as number,
    is_verified: v.is_verified,
    session_data: v.session_data as JsonObject,
  };
}

function parseVersion(version: string): number | undefined {
  return /^[1-9][0-9]{0,8}$/.test(version) ? Number(version) : undefined;
}

export class KeyBackupService {
  private readonly userLock = new KeyedLock<string>();

  constructor(private readonly db: Database) {}

  async createVersion(userId: string, algorithm: string, authData: JsonObject): Promise<string> {
    return this.userLock.run(userId, async () => {
      const latest = await this.newestVersion(userId, true);
      const version = (latest?.version ?? 0) + 1;
      await this.db.write([this.putVersion(userId, version, { algorithm, authData, count: 0, etag: 0 })]);
      return String(version);
    });
  }

  /** A version (the current one when `version` is undefined), or undefined. */
  async versionInfo(userId: string, version?: string): Promise<BackupVersionInfo | undefined> {
    const found = version === undefined ? await this.newestVersion(userId, false) : await this.readVersion(userId, version);
    if (!found) return undefined;
    const { record } = found;
    return { algorithm: record.algorithm, auth_data: record.authData, count: record.count, etag: String(record.etag), version: String(found.version) };
  }

  /** PUT /room_keys/version/{version}: only auth_data may change. */
  async updateVersion(userId: string, version: string, algorithm: string, authData: JsonObject): Promise<void> {
    await this.userLock.run(userId, async () => {
      const found = await this.readVersion(userId, version);
      if (!found) throw notFound('Unknown backup version');
      if (found.record.algorithm !== algorithm) throw new MatrixError(400, ErrCode.INVALID_PARAM, 'The algorithm of a backup version cannot change');
      await this.db.write([this.putVersion(userId, found.version, { ...found.record, authData })]);
    });
  }

  async deleteVersion(userId: string, version: string): Promise<void> {
    await this.userLock.run(userId, async () => {
      const found = await this.readVersion(userId, version);
      if (!found) throw notFound('Unknown backup version');
      const ops: BatchOp[] = [];
      for await (const key of this.db.space('e2eRoomKeys').keys(prefixRange(tuple(userId, u32(found.version))))) ops.push(this.db.del('e2eRoomKeys', key));
      ops.push(this.db.putJson('e2eRoomKeyVersions', tuple(userId, u32(found.version)), { deleted: true }));
      await this.db.write(ops);
    });
  }

  /** Stores keys into the current version, keeping the better copy of each; returns the new count and etag. */
  async putKeys(userId: string, version: string, keys: RoomKeys): Promise<{ count: number; etag: string }> {
    return this.userLock.run(userId, async () => {
      const { number, record } = await this.currentForWrite(userId, version);
      const ops: BatchOp[] = [];
      let added = 0;
      let changed = false;
      for (const [roomId, sessions] of Object.entries(keys)) {
        for (const [sessionId, candidate] of Object.entries(sessions)) {
          const key = tuple(userId, u32(number), roomId, sessionId);
          const current = await this.db.getJson<KeyBackupData>('e2eRoomKeys', key);
          if (current && !isBetterKey(candidate, current)) continue;
          if (!current) added++;
          changed = true;
          ops.push(this.db.putJson('e2eRoomKeys', key, candidate));
        }
      }
      const next = changed ? { ...record, count: record.count + added, etag: record.etag + 1 } : record;
      if (changed) {
        ops.push(this.putVersion(userId, number, next));
        await this.db.write(ops);
      }
      return { count: next.count, etag: String(next.etag) };
    });
  }

  /** Keys of a version, optionally of one room or one session. */
  async getKeys(userId: string, version: string, roomId?: string, sessionId?: string): Promise<RoomKeys> {
    const found = await this.readVersion(userId, version);
    if (!found) throw notFound('Unknown backup version');
    const prefix = tuple(userId, u32(found.version), ...(roomId !== undefined ? [roomId] : []), ...(sessionId !== undefined ? [sessionId] : []));
    const out: RoomKeys = {};
    for await (const [key, value] of this.db.space('e2eRoomKeys').iterator(prefixRange(prefix))) {
      const [, room, session] = this.splitKey(key);
      if (sessionId !== undefined && session !== sessionId) continue;
      (out[room] ??= {})[session] = decodeJson<KeyBackupData>(value);
    }
    return out;
  }

  async deleteKeys(userId: string, version: string, roomId?: string, sessionId?: string): Promise<{ count: number; etag: string }> {
    return this.userLock.run(userId, async () => {
      const found = await this.readVersion(userId, version);
      if (!found) throw notFound('Unknown backup version');
      const prefix = tuple(userId, u32(found.version), ...(roomId !== undefined ? [roomId] : []), ...(sessionId !== undefined ? [sessionId] : []));
      const ops: BatchOp[] = [];
      for await (const key of this.db.space('e2eRoomKeys').keys(prefixRange(prefix))) {
        if (sessionId !== undefined && this.splitKey(key)[2] !== sessionId) continue;
        ops.push(this.db.del('e2eRoomKeys', key));
      }
      const next = ops.length > 0 ? { ...found.record, count: found.record.count - ops.length, etag: found.record.etag + 1 } : found.record;
      if (ops.length > 0) {
        ops.push(this.putVersion(userId, found.version, next));
        await this.db.write(ops);
      }
      return { count: next.count, etag: String(next.etag) };
    });
  }

  /** Uploads go to the current version only (403 M_WRONG_ROOM_KEYS_VERSION names it). */
  private async currentForWrite(userId: string, version: string): Promise<{ number: number; record: VersionRecord }> {
    const current = await this.newestVersion(userId, false);
    if (current && String(current.version) === version) return { number: current.version, record: current.record };
    if (!current) throw notFound('No backup version exists');
    throw new MatrixError(403, ErrCode.WRONG_ROOM_KEYS_VERSION, 'Wrong backup version', { current_version: String(current.version) });
  }

  private async readVersion(userId: string, version: string): Promise<{ version: number; record: VersionRecord } | undefined> {
    const number = parseVersion(version);
    if (number === undefined) return undefined;
    const record = await this.db.getJson<VersionRecord>('e2eRoomKeyVersions', tuple(userId, u32(number)));
    return record && !record.deleted ? { version: number, record } : undefined;
  }

  /** The highest version (deleted ones too when `includeDeleted`, for numbering). */
  private async newestVersion(userId: string, includeDeleted: boolean): Promise<{ version: number; record: VersionRecord } | undefined> {
    for await (const [key, value] of this.db.space('e2eRoomKeyVersions').iterator({ ...prefixRange(tuple(userId)), reverse: true })) {
      const record = decodeJson<VersionRecord>(value);
      if (record.deleted && !includeDeleted) continue;
      return { version: readU32(splitStrings(key, 1).rest), record };
    }
    return undefined;
  }

  private putVersion(userId: string, version: number, record: VersionRecord): BatchOp {
    return this.db.putJson('e2eRoomKeyVersions', tuple(userId, u32(version)), record);
  }

  /** `str user ‖ u32 version ‖ str room ‖ str session` -> [user, room, session]. */
  private splitKey(key: Buffer): [string, string, string] {
    const { strings, rest } = splitStrings(key, 1);
    const { strings: tail } = splitStrings(rest.subarray(4), 2);
    return [strings[0]!, tail[0]!, tail[1]!];
  }
}
