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
    const op = this.pending.get(mapKey(space, key));
    return op === undefined ? undefined : (op.value ?? null);
  }

  /** Writes everything pending now; resolves when it is in LevelDB's log. */
  flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    const ops: BatchOp[] = [];
    for (const op of this.pending.values()) {
      ops.push(op.value === undefined ? this.db.del(op.space, op.key) : this.db.put(op.space, op.key, op.value));
    }
    this.pending = new Map();
    // Batches are chained so a later flush never overtakes an earlier one on the same key; a failed
    // batch is reported to its caller and does not block the ones after it.
    const run = this.flushing.catch(() => undefined).then(() => this.db.write(ops));
    this.flushing = run;
    return run;
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
