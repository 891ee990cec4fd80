/**
 * Redactions that arrived before the event they redact (key space `redactions_waiting`).
 *
 * Over federation a redaction can come first: its target sits on a branch still being fetched, or
 * reaches us only by backfill. rooms/v3 "Handling redactions": the redaction is kept and applied
 * once the target is known. Each waiting one is recorded here in the redaction's own batch, and
 * the target's batch takes it out again. The targets are also held in memory, so the persist path
 * asks a Set, not LevelDB, for the many events nobody redacted first.
 *
 * Bounded by what it indexes: one entry per stored, accepted redaction whose target was unknown.
 */
import type { BatchOp, Database } from './db.js';
import { prefixRange, readU64, splitStrings, tuple, u64 } from './codec.js';

const EMPTY = Buffer.alloc(0);

export class WaitingRedactionStore {
  /** Event ids some stored redaction waits for. */
  private readonly targets = new Set<string>();

  constructor(private readonly db: Database) {}

  async open(): Promise<void> {
    for await (const key of this.db.space('redactionsWaiting').keys()) {
      this.targets.add(splitStrings(key, 1).strings[0]!);
    }
  }

  /** True when a stored redaction names `eventId` and waits for it. */
  isAwaited(eventId: string): boolean {
    return this.targets.has(eventId);
  }

  /** Records, in the redaction's batch, that the redaction stored as `redactionShort` waits for `targetId`. */
  addTxn(ops: BatchOp[], targetId: string, redactionShort: number): void {
    ops.push(this.db.put('redactionsWaiting', tuple(targetId, u64(redactionShort)), EMPTY));
  }

  /** Call once the redaction's batch is written. */
  remember(targetId: string): void {
    this.targets.add(targetId);
  }

  /** The shorts of the redactions waiting for `targetId`, their entries removed within `ops` (the target's batch). */
  async takeTxn(ops: BatchOp[], targetId: string): Promise<number[]> {
    const shorts: number[] = [];
    for await (const key of this.db.space('redactionsWaiting').keys(prefixRange(tuple(targetId)))) {
      const { rest } = splitStrings(key, 1);
      shorts.push(readU64(rest));
      ops.push(this.db.del('redactionsWaiting', Buffer.from(key)));
    }
    return shorts;
  }

  /** Call once the target's batch is written. */
  forget(targetId: string): void {
    this.targets.delete(targetId);
  }
}
