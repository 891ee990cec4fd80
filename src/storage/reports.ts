/**
 * Content reports (client-server "Reporting Content"): `u64 id` -> json ReportRecord. Ids count up
 * from the last stored key (recovered at open, like every other counter).
 */
import type { Database } from './db.js';
import { decodeJson, readU64, u64 } from './codec.js';

export interface ReportRecord {
  id: number;
  kind: 'event' | 'room' | 'user';
  /** Who reported. */
  reporter: string;
  reason: string;
  receivedTs: number;
  roomId?: string;
  eventId?: string;
  /** The reported user (kind `user`). */
  userId?: string;
  /** Legacy `score` (-100 most offensive .. 0), when a client still sends it. */
  score?: number;
}

export class ReportStore {
  private nextId = 1;

  constructor(private readonly db: Database) {}

  async open(): Promise<void> {
    for await (const key of this.db.space('reports').keys({ reverse: true, limit: 1 })) this.nextId = readU64(key) + 1;
  }

  async add(report: Omit<ReportRecord, 'id'>): Promise<ReportRecord> {
    const record: ReportRecord = { id: this.nextId++, ...report };
    await this.db.write([this.db.putJson('reports', u64(record.id), record)]);
    return record;
  }

  async get(id: number): Promise<ReportRecord | undefined> {
    return this.db.getJson<ReportRecord>('reports', u64(id));
  }

  async delete(id: number): Promise<void> {
    await this.db.write([this.db.del('reports', u64(id))]);
  }

  /** Reports in id order (`dir` b: newest first), from the id `from` (inclusive) on. */
  async list(opts: { dir: 'f' | 'b'; from?: number; limit: number }): Promise<ReportRecord[]> {
    const range = opts.dir === 'f' ? { gte: u64(opts.from ?? 0) } : { lte: u64(opts.from ?? Number.MAX_SAFE_INTEGER) };
    const out: ReportRecord[] = [];
    for await (const value of this.db.space('reports').values({ ...range, reverse: opts.dir === 'b', limit: opts.limit })) out.push(decodeJson<ReportRecord>(value));
    return out;
  }
}
