/**
 * Write-behind buffer for the broker's LevelDB mirror: puts and deletes are collected for a short
 * window and written as one batch, and repeated writes to one key collapse into the last one. A
 * retained topic updated every second costs one write per window instead of one per message, and an
 * offline message delivered within the window never reaches the disk (SD-card wear, see
 * docs/mqtt.md "Persistence").
 */
import type { BatchOp, Database } from '../../storage/db.js';
import type { KeyspaceName } from '../../storage/keyspaces.js';

interface PendingOp {
  space: KeyspaceName;
  key: Buffer;
  /** undefined: delete. */
  value: Buffer | undefined;
}

export class WriteBehind {
  private pending = new Map<string, PendingOp>();
  /**
   * Batches handed to LevelDB and not yet written, oldest first. Reads look here after `pending`:
   * between a flush starting and its batch landing, LevelDB still holds the old value.
   */
  private inFlight: Map<string, PendingOp>[] = [];
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly db: Database,
    private readonly flushIntervalMs: number,
    private readonly onError: (err: unknown) => void,
  ) {}

  put(space: KeyspaceName, key: Buffer, value: Buffer): void {
    this.pending.set(mapKey(space, key), { space, key, value });
    this.schedule();
  }

  del(space: KeyspaceName, key: Buffer): void {
    this.pending.set(mapKey(space, key), { space, key, value: undefined });
    this.schedule();
  }

  /**
   * Drops a put that has not been written yet; true when there was one. For keys that are never
   * rewritten (offline queue entries), a cancelled put means nothing is on disk to delete.
   */
  cancelPut(space: KeyspaceName, key: Buffer): boolean {
    const k = mapKey(space, key);
    const op = this.pending.get(k);
    if (op?.value === undefined) return false;
    this.pending.delete(k);
    return true;
  }

  /**
   * What a read of `key` must see before the window is written: the pending value, `null` for a
   * pending delete, `undefined` when nothing is pending (read LevelDB).
   */
  peek(space: KeyspaceName, key: Buffer): Buffer | null | undefined {
    const k = mapKey(space, key);
    let op = this.pending.get(k);
    for (let i = this.inFlight.length - 1; op === undefined && i >= 0; i--) op = this.inFlight[i]!.get(k);
    return op === undefined ? undefined : (op.value ?? null);
  }

  /** Writes everything pending now; resolves when it is in LevelDB's log. */
  flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    const batch = this.pending;
    this.pending = new Map();
    if (batch.size > 0) this.inFlight.push(batch);
    const ops: BatchOp[] = [];
    for (const op of batch.values()) {
      ops.push(op.value === undefined ? this.db.del(op.space, op.key) : this.db.put(op.space, op.key, op.value));
    }
    // Batches are chained so a later flush never overtakes an earlier one on the same key. A failed
    // batch is reported to its caller, and its writes not since superseded go back into the window
    // to be tried again (a full disk that is cleared loses nothing); it does not block later ones.
    const run = this.flushing
      .catch(() => undefined)
      .then(() => (ops.length > 0 ? this.db.write(ops) : undefined))
      .then(
        () => this.settle(batch),
        (err: unknown) => {
          this.settle(batch);
          // Every batch still in flight was flushed after this one, so it holds newer writes.
          const superseded = (k: string) => this.pending.has(k) || this.inFlight.some((later) => later.has(k));
          for (const [k, op] of batch) if (!superseded(k)) this.pending.set(k, op);
          if (this.pending.size > 0) this.schedule();
          throw err;
        },
      );
    this.flushing = run;
    return run;
  }

  private settle(batch: Map<string, PendingOp>): void {
    const at = this.inFlight.indexOf(batch);
    if (at >= 0) this.inFlight.splice(at, 1);
  }

  private schedule(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.flush().catch(this.onError);
    }, this.flushIntervalMs);
    this.timer.unref();
  }
}

function mapKey(space: KeyspaceName, key: Buffer): string {
  return `${space}\0${key.toString('latin1')}`;
}
