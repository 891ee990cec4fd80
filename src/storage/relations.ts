/**
 * The relations index (client-server "Forming relationships between events"): each parent's child
 * events in stream order, and each room's threads ordered by their latest reply. Layout:
 * keyspaces.ts and docs/storage.md. Written in the child's own event batch (`*Txn`).
 */
import type { BatchOp, Database } from './db.js';
import { decodeJson, encodeJson, position, readPosition, readU64, u32, u64 } from './codec.js';

/** One child of a parent, as the index holds it (enough to filter without loading the event). */
export interface RelationEntry {
  childShort: number;
  /** Stream position of the child. */
  stream: number;
  relType: string;
  /** The child's event type. */
  type: string;
  sender: string;
  /** Annotation key, for `m.annotation`. */
  key?: string;
}

interface RelationValue {
  rel: string;
  type: string;
  sender: string;
  key?: string;
}

/** One thread of a room in the thread list. */
export interface ThreadEntry {
  rootShort: number;
  /** Stream position of the thread's latest reply. */
  latest: number;
}

const EMPTY = Buffer.alloc(0);

export class RelationStore {
  constructor(private readonly db: Database) {}

  addTxn(ops: BatchOp[], parentShort: number, entry: RelationEntry): void {
    const value: RelationValue = { rel: entry.relType, type: entry.type, sender: entry.sender };
    if (entry.key !== undefined) value.key = entry.key;
    ops.push(this.db.put('relations', relationKey(parentShort, entry.stream, entry.childShort), encodeJson(value)));
  }

  /**
   * Children of a parent between stream positions, oldest first (`f`) or newest first (`b`).
   * Bounds are inclusive stream positions of children; `limit` counts index entries.
   */
  async children(parentShort: number, opts: { dir: 'f' | 'b'; from?: number; to?: number; limit?: number } = { dir: 'f' }): Promise<RelationEntry[]> {
    const parent = u64(parentShort);
    const low = Buffer.concat([parent, position(opts.dir === 'f' ? (opts.from ?? Number.MIN_SAFE_INTEGER) : (opts.to ?? Number.MIN_SAFE_INTEGER))]);
    const highPos = opts.dir === 'f' ? (opts.to ?? Number.MAX_SAFE_INTEGER) : (opts.from ?? Number.MAX_SAFE_INTEGER);
    // Keys are parent ‖ pos ‖ child: "up to and including position P" is "below P + 1".
    const high = Buffer.concat([parent, position(highPos + 1)]);
    const out: RelationEntry[] = [];
    const iterator = this.db.space('relations').iterator({ gte: low, lt: high, reverse: opts.dir === 'b', limit: opts.limit ?? -1 });
    for await (const [key, value] of iterator) {
      const v = decodeJson<RelationValue>(value);
      const entry: RelationEntry = { childShort: readU64(key, 16), stream: readPosition(key, 8), relType: v.rel, type: v.type, sender: v.sender };
      if (v.key !== undefined) entry.key = v.key;
      out.push(entry);
    }
    return out;
  }

  /** The latest reply's position of a thread, if the root has replies. */
  latestThreadReply(rootShort: number): number | undefined {
    const v = this.db.getSync('threadRoots', u64(rootShort));
    return v === undefined ? undefined : readPosition(v);
  }

  /** Moves a thread to the top of its room's thread list (its newest reply is at `latest`). */
  threadReplyTxn(ops: BatchOp[], roomShort: number, rootShort: number, latest: number, previous: number | undefined): void {
    if (previous !== undefined) ops.push(this.db.del('threads', threadKey(roomShort, previous, rootShort)));
    ops.push(this.db.put('threads', threadKey(roomShort, latest, rootShort), EMPTY), this.db.put('threadRoots', u64(rootShort), position(latest)));
  }

  /** A room's threads, most recently active first, strictly before `before` (a thread-list position) when given. */
  async threads(roomShort: number, opts: { before?: ThreadEntry; limit: number }): Promise<ThreadEntry[]> {
    const room = u32(roomShort);
    const lt = opts.before ? threadKey(roomShort, opts.before.latest, opts.before.rootShort) : u32(roomShort + 1);
    const out: ThreadEntry[] = [];
    for await (const key of this.db.space('threads').keys({ gte: room, lt, reverse: true, limit: opts.limit })) {
      out.push({ latest: readPosition(key, 4), rootShort: readU64(key, 12) });
    }
    return out;
  }
}

function relationKey(parentShort: number, stream: number, childShort: number): Buffer {
  return Buffer.concat([u64(parentShort), position(stream), u64(childShort)]);
}

function threadKey(roomShort: number, latest: number, rootShort: number): Buffer {
  return Buffer.concat([u32(roomShort), position(latest), u64(rootShort)]);
}
