/**
 * Whether the database can take writes, and why not. Two causes, both temporary:
 * - a LevelDB I/O error (ENOSPC, EMFILE, EIO): LevelDB latches the first background error and
 *   fails every later write with it until the database is reopened (db.ts recovers by reopening);
 * - too little free space on the disk (below `minFreeBytes`): writes are refused *before* LevelDB
 *   fills the disk, so its compactions keep the room they need and a replay at start (devices
 *   sending their buffered readings, the telemetry journal) cannot fill it again.
 * While failing, writes are refused with 503 (`StorageFailingError`), the fault is logged once when
 * it starts and once when it ends, and `GET /health` says so (docs/storage.md "When the disk fails").
 */
import { statfsSync } from 'node:fs';
import { ErrCode, MatrixError } from '../core/errors.js';

export interface StorageFault {
  /** What the operator reads: "No space left on device", "free space 12 MB below 64 MB". */
  reason: string;
  /** errno-style code when known: ENOSPC, EMFILE, EIO, LOW_SPACE. */
  code: string;
  since: number;
}

/** Thrown instead of writing while storage is failing: 503 with the reason. */
export class StorageFailingError extends MatrixError {
  constructor(readonly fault: StorageFault) {
    super(503, ErrCode.UNKNOWN, `Storage is failing (${fault.reason}): writes are refused until it recovers`);
    this.name = 'StorageFailingError';
  }
}

export interface StorageLogger {
  error(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
}

/** Classifies an error from a LevelDB write as a storage fault (an I/O problem), or undefined for anything else. */
export function storageFaultOf(err: unknown): Omit<StorageFault, 'since'> | undefined {
  const e = err as { code?: string; message?: string; cause?: { code?: string; message?: string } } | null;
  const text = `${e?.message ?? ''} ${e?.cause?.message ?? ''}`;
  const codes: Array<[RegExp, string]> = [
    [/No space left on device|ENOSPC/i, 'ENOSPC'],
    [/Too many open files|EMFILE|ENFILE/i, 'EMFILE'],
    [/Read-only file system|EROFS/i, 'EROFS'],
    [/Input\/output error|EIO\b/i, 'EIO'],
  ];
  for (const [pattern, code] of codes) if (pattern.test(text)) return { reason: firstLine(e?.message ?? code), code };
  if (e?.code === 'LEVEL_IO_ERROR' || e?.cause?.code === 'LEVEL_IO_ERROR') return { reason: firstLine(e?.message ?? 'I/O error'), code: 'EIO' };
  if (e?.code === 'LEVEL_CORRUPTION' || e?.cause?.code === 'LEVEL_CORRUPTION') return { reason: firstLine(e?.message ?? 'corruption'), code: 'CORRUPTION' };
  return undefined;
}

function firstLine(s: string): string {
  return s.split('\n')[0]!.slice(0, 300);
}

/** Free bytes for unprivileged writers on the filesystem holding `path`, or undefined when unknown. */
export function freeBytes(path: string): number | undefined {
  try {
    const s = statfsSync(path);
    return Number(s.bavail) * Number(s.bsize);
  } catch {
    return undefined;
  }
}

export class StorageHealth {
  private fault: StorageFault | undefined;
  private readonly listeners = new Set<(fault: StorageFault | undefined) => void>();

  constructor(
    private readonly log: StorageLogger | undefined,
    private readonly now: () => number = Date.now,
  ) {}

  get current(): StorageFault | undefined {
    return this.fault;
  }

  /** Throws `StorageFailingError` while storage is failing. */
  assertWritable(): void {
    if (this.fault) throw new StorageFailingError(this.fault);
  }

  /** Records a fault; logged only when storage was healthy (one line per episode, not per write). */
  fail(fault: Omit<StorageFault, 'since'>): StorageFault {
    if (this.fault) return this.fault;
    this.fault = { ...fault, since: this.now() };
    this.log?.error({ storageFault: fault.code, reason: fault.reason }, 'storage is failing: writes are refused until it recovers');
    this.emit();
    return this.fault;
  }

  recovered(): void {
    if (!this.fault) return;
    const { code, since } = this.fault;
    this.fault = undefined;
    this.log?.warn({ storageFault: code, failingMs: this.now() - since }, 'storage recovered: writes accepted again');
    this.emit();
  }

  onChange(listener: (fault: StorageFault | undefined) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(): void {
    for (const l of this.listeners) l(this.fault);
  }
}
