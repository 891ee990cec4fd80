/**
 * The room directory: room aliases and the public room list (client-server "Room aliases",
 * "Listing rooms"). Neither is a room event (an alias is not `m.room.canonical_alias`, publishing a
 * room is not state), so they are written here and not through the room engine. Owns the `aliases`
 * and `directory` key spaces (docs/storage.md).
 */
import type { Database } from '../storage/db.js';
import { decodeJson } from '../storage/codec.js';

export type DirectoryVisibility = 'public' | 'private';

export interface AliasTarget {
  roomId: string;
  /** Who created the alias: they may delete it whatever their power level. */
  creator: string;
}

export class RoomDirectory {
  constructor(private readonly db: Database) {}

  async aliasTarget(alias: string): Promise<AliasTarget | undefined> {
    return this.db.getJson<AliasTarget>('aliases', Buffer.from(alias));
  }

  async setAlias(alias: string, roomId: string, creator: string): Promise<void> {
    await this.db.write([this.db.putJson('aliases', Buffer.from(alias), { roomId, creator })]);
  }

  async deleteAlias(alias: string): Promise<void> {
    await this.db.write([this.db.del('aliases', Buffer.from(alias))]);
  }

  /** A room's aliases (a scan: a home has a handful, and only GET /aliases and upgrades ask). */
  async aliasesOf(roomId: string): Promise<string[]> {
    const out: string[] = [];
    for await (const [key, value] of this.db.space('aliases').iterator()) {
      if (decodeJson<AliasTarget>(value).roomId === roomId) out.push(key.toString('utf8'));
    }
    return out;
  }

  async setVisibility(roomId: string, visibility: DirectoryVisibility): Promise<void> {
    const key = Buffer.from(roomId);
    await this.db.write([visibility === 'public' ? this.db.putJson('directory', key, { visibility }) : this.db.del('directory', key)]);
  }

  async visibility(roomId: string): Promise<DirectoryVisibility> {
    return (await this.db.space('directory').get(Buffer.from(roomId))) ? 'public' : 'private';
  }

  /** The ids of the rooms published in the public room list. */
  async publicRooms(): Promise<string[]> {
    const out: string[] = [];
    for await (const key of this.db.space('directory').keys()) out.push(key.toString('utf8'));
    return out;
  }
}
