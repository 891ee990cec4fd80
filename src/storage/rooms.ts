/**
 * Room records, room heads (current state snapshot and forward extremities), each user's room
 * memberships and send transaction ids. Aliases and the public directory are rooms/room-directory.ts.
 */
import type { RoomVersionId } from '../core/types.js';
import type { BatchOp, Database } from './db.js';
import { decodeJson, encodeJson, prefixRange, readU32, tuple, u32 } from './codec.js';

export interface RoomRecord {
  roomId: string;
  short: number;
  version: RoomVersionId;
  creator: string;
  createdAt: number;
}

/** The forward edge of a room's DAG. */
export interface RoomHead {
  /** Snapshot of the current (resolved) state. */
  snapshot: number;
  /** Forward extremities: events with no children yet; the prev_events of the next event. */
  extremities: string[];
  /** Greatest depth in the room. */
  depth: number;
  /** Stream position of the newest event. */
  lastStream: number;
}

export type Membership = 'join' | 'invite' | 'leave' | 'ban' | 'knock';

export interface UserRoomEntry {
  roomId: string;
  membership: Membership;
  eventId: string;
  stream: number;
  /** Set by /forget: the room no longer appears for this user. */
  forgotten?: boolean;
}

export class RoomStore {
  private readonly byId = new Map<string, RoomRecord>();
  private readonly byShort = new Map<number, RoomRecord>();
  private readonly heads = new Map<number, RoomHead>();
  private nextShort = 1;

  constructor(private readonly db: Database) {}

  /** Room records are small and few: keep them all in memory. */
  async open(): Promise<void> {
    for await (const value of this.db.space('rooms').values()) {
      const rec = decodeJson<RoomRecord>(value);
      this.byId.set(rec.roomId, rec);
      this.byShort.set(rec.short, rec);
      if (rec.short >= this.nextShort) this.nextShort = rec.short + 1;
    }
    for await (const [key, value] of this.db.space('roomHead').iterator()) {
      this.heads.set(readU32(key), decodeJson<RoomHead>(value));
    }
  }

  get(roomId: string): RoomRecord | undefined {
    return this.byId.get(roomId);
  }

  getByShort(short: number): RoomRecord | undefined {
    return this.byShort.get(short);
  }

  all(): RoomRecord[] {
    return [...this.byId.values()];
  }

  createTxn(ops: BatchOp[], roomId: string, version: RoomVersionId, creator: string): RoomRecord {
    const rec: RoomRecord = { roomId, short: this.nextShort++, version, creator, createdAt: Date.now() };
    ops.push(this.db.put('rooms', Buffer.from(roomId), encodeJson(rec)), this.db.put('roomByShort', u32(rec.short), Buffer.from(roomId)));
    return rec;
  }

  /** Called after the batch that created the room is written. */
  remember(rec: RoomRecord, head: RoomHead): void {
    this.byId.set(rec.roomId, rec);
    this.byShort.set(rec.short, rec);
    this.heads.set(rec.short, head);
  }

  head(roomShort: number): RoomHead | undefined {
    return this.heads.get(roomShort);
  }

  setHeadTxn(ops: BatchOp[], roomShort: number, head: RoomHead): void {
    ops.push(this.db.put('roomHead', u32(roomShort), encodeJson(head)));
  }

  rememberHead(roomShort: number, head: RoomHead): void {
    this.heads.set(roomShort, head);
  }

  // ---- memberships per user ----

  setMembershipTxn(ops: BatchOp[], userId: string, entry: UserRoomEntry): void {
    ops.push(this.db.put('userRooms', tuple(userId, entry.roomId), encodeJson(entry)));
  }

  /** Read on every send and many reads: a synchronous point read (see Database.getSync). */
  async membership(userId: string, roomId: string): Promise<UserRoomEntry | undefined> {
    return this.db.getJsonSync<UserRoomEntry>('userRooms', tuple(userId, roomId));
  }

  async roomsOf(userId: string): Promise<UserRoomEntry[]> {
    const out: UserRoomEntry[] = [];
    for await (const value of this.db.space('userRooms').values(prefixRange(tuple(userId)))) {
      out.push(decodeJson<UserRoomEntry>(value));
    }
    return out;
  }

  async forget(userId: string, roomId: string): Promise<void> {
    const entry = await this.membership(userId, roomId);
    if (!entry) return;
    await this.db.write([this.db.putJson('userRooms', tuple(userId, roomId), { ...entry, forgotten: true })]);
  }

  // ---- transaction ids (client-server "Transaction identifiers") ----

  /** Read (twice) on every send, nearly always a miss the bloom filter answers: a synchronous read. */
  async txnEvent(userId: string, deviceId: string, endpoint: readonly string[], txnId: string): Promise<string | undefined> {
    return this.db.getSync('txnIds', txnKey(userId, deviceId, endpoint, txnId))?.toString('utf8');
  }

  setTxnTxn(ops: BatchOp[], userId: string, deviceId: string, endpoint: readonly string[], txnId: string, eventId: string): void {
    ops.push(this.db.put('txnIds', txnKey(userId, deviceId, endpoint, txnId), Buffer.from(eventId)));
  }
}

/**
 * The key of a transaction id. Its scope is one device and one endpoint (client-server "Transaction
 * identifiers"), and the endpoint's path names the room and the event type (or the redacted event):
 * the same txnId in another room or for another type is another request.
 */
export function txnKey(userId: string, deviceId: string, endpoint: readonly string[], txnId: string): Buffer {
  return tuple(userId, deviceId, ...endpoint, txnId);
}

/** The endpoint that sent an event: `send ‖ room ‖ type`, or `redact ‖ room ‖ event` for PUT /redact. */
export function txnEndpoint(roomId: string, draft: { type: string; redacts?: string | undefined }): string[] {
  return draft.redacts !== undefined ? ['redact', roomId, draft.redacts] : ['send', roomId, draft.type];
}
