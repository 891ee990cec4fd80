/**
 * The federation sender's durable state (docs/storage.md "federation_*"): per destination server
 * its position in the global stream (`stream_cursors` key `federation:<server>`), the last event
 * sent per room (written in the same batch as the position), its retry state, and an outbox for
 * what the stream walk does not cover (events relayed as resident, durable EDUs).
 *
 * A kill -9 keeps everything the sender was handed: the position moves only after the peer
 * acknowledged a transaction, and outbox entries are deleted only then.
 */
import type { Database } from './db.js';
import { decodeJson, encodeJson, prefixRange, readU32, readU64, splitStrings, tuple, u32, u64 } from './codec.js';

const CURSOR_PREFIX = 'federation:';

/** The retry state of one destination, for the log, status and the next start. */
export interface DestinationRecord {
  /** Consecutive failed attempts (0 once a transaction went through). */
  failures: number;
  lastFailureTs?: number;
  lastSuccessTs?: number;
  /** When the next attempt is due (a backoff in progress). */
  retryAt?: number;
  lastError?: string;
}

/** What waits in a destination's outbox besides the stream walk. */
export type OutboxItem = { kind: 'pdu'; eventId: string } | { kind: 'edu'; edu_type: string; content: Record<string, unknown> };

export interface OutboxEntry {
  seq: number;
  item: OutboxItem;
}

export class FederationOutboxStore {
  private nextSeq = 1;
  /** Entries per destination (kept in step with the key space, for the bound). */
  private readonly counts = new Map<string, number>();

  constructor(private readonly db: Database) {}

  /** Recovers the outbox sequence and the per-destination counts (the outbox is small: acknowledged entries are deleted). */
  async open(): Promise<void> {
    for await (const key of this.db.space('federationOutbox').keys()) {
      const { strings, rest } = splitStrings(key, 1);
      const seq = readU64(rest);
      if (seq >= this.nextSeq) this.nextSeq = seq + 1;
      this.counts.set(strings[0]!, (this.counts.get(strings[0]!) ?? 0) + 1);
    }
  }

  // ---------------------------------------------------------------- positions

  /** Destinations with a saved position (every server we ever sent to and still track). */
  async savedDestinations(): Promise<string[]> {
    const out: string[] = [];
    const prefix = Buffer.from(CURSOR_PREFIX, 'utf8');
    for await (const key of this.db.space('streamCursors').keys(prefixRange(prefix))) {
      out.push(Buffer.from(key).subarray(prefix.length).toString('utf8'));
    }
    return out;
  }

  async position(destination: string): Promise<number | undefined> {
    const value = await this.db.space('streamCursors').get(cursorKey(destination));
    return value === undefined ? undefined : readU64(value);
  }

  /** Saves the position and, in the same batch, the last event sent per room (room short -> stream). */
  async savePosition(destination: string, position: number, roomsSent: ReadonlyMap<number, number> = new Map()): Promise<void> {
    const ops = [this.db.put('streamCursors', cursorKey(destination), u64(position))];
    for (const [roomShort, stream] of roomsSent) ops.push(this.db.put('federationRoomSent', tuple(destination, u32(roomShort)), u64(stream)));
    await this.db.write(ops);
  }

  /** The last event sent to a destination per room: room short -> stream position. */
  async roomsSent(destination: string): Promise<Map<number, number>> {
    const out = new Map<number, number>();
    for await (const [key, value] of this.db.space('federationRoomSent').iterator(prefixRange(tuple(destination)))) {
      const { rest } = splitStrings(key, 1);
      out.set(readU32(rest), readU64(value));
    }
    return out;
  }

  // ---------------------------------------------------------------- retry state

  async destination(destination: string): Promise<DestinationRecord | undefined> {
    return this.db.getJson<DestinationRecord>('federationDestinations', tuple(destination));
  }

  async saveDestination(destination: string, record: DestinationRecord): Promise<void> {
    await this.db.write([this.db.putJson('federationDestinations', tuple(destination), record)]);
  }

  // ---------------------------------------------------------------- outbox

  /** Entries queued for a destination. */
  count(destination: string): number {
    return this.counts.get(destination) ?? 0;
  }

  async enqueue(destination: string, item: OutboxItem): Promise<void> {
    const seq = this.nextSeq++;
    this.counts.set(destination, this.count(destination) + 1);
    try {
      await this.db.write([this.db.put('federationOutbox', tuple(destination, u64(seq)), encodeJson(item))]);
    } catch (err) {
      this.counts.set(destination, Math.max(0, this.count(destination) - 1));
      throw err;
    }
  }

  /** The oldest `limit` entries of a destination's outbox. */
  async peek(destination: string, limit: number): Promise<OutboxEntry[]> {
    if (this.count(destination) === 0) return [];
    const out: OutboxEntry[] = [];
    for await (const [key, value] of this.db.space('federationOutbox').iterator({ ...prefixRange(tuple(destination)), limit })) {
      const { rest } = splitStrings(key, 1);
      out.push({ seq: readU64(rest), item: decodeJson<OutboxItem>(value) });
    }
    return out;
  }

  /** Deletes acknowledged entries. */
  async remove(destination: string, seqs: readonly number[]): Promise<void> {
    if (seqs.length === 0) return;
    await this.db.write(seqs.map((seq) => this.db.del('federationOutbox', tuple(destination, u64(seq)))));
    this.counts.set(destination, Math.max(0, this.count(destination) - seqs.length));
  }
}

function cursorKey(destination: string): Buffer {
  return Buffer.from(CURSOR_PREFIX + destination, 'utf8');
}
