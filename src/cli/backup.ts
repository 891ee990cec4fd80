/**
 * `hearth backup FILE` and `hearth restore FILE [--force]` (docs/cli.md).
 *
 * Backup works whether or not the gateway runs: stopped, the command opens the database itself;
 * running (LevelDB locked), it asks the gateway over the admin socket (`backup.write`), which takes
 * the snapshot and writes the archive itself, reporting progress on the socket. Either way the
 * archive is written by the gateway's user (the admin socket is 0600) at an absolute path.
 * Restore only ever writes into a stopped gateway's data directory (src/backup/restore.ts).
 */
import { isAbsolute, join, resolve } from 'node:path';
import { Level } from 'level';
import { loadConfig, type HearthConfig } from '../config/config.js';
import type { Database } from '../storage/db.js';
import type { TelemetryStore } from '../telemetry/store.js';
import { captureState, writeBackup, type BackupProgress, type BackupSummary } from '../backup/backup.js';
import { restoreBackup, RestoreRefusedError } from '../backup/restore.js';
import { adminSocketPath, callAdminSocket } from '../admin/socket.js';
import { formatBytes, progressLine } from './progress.js';

export interface BackupWriteRequest {
  op: 'backup.write';
  /** Absolute path of the archive to write. */
  path: string;
}

/** Server side of `hearth backup`, for the gateway's admin socket. */
export function backupAdminHandlers(deps: { dataDir: string; db: Database; telemetry: TelemetryStore }): {
  'backup.write': (request: BackupWriteRequest, progress: (report: unknown) => void) => Promise<BackupSummary>;
} {
  return {
    'backup.write': async (request, progress) => {
      if (typeof request.path !== 'string' || !isAbsolute(request.path)) throw new Error('backup.write needs an absolute path');
      // The snapshot and the journal copy at one point: between two telemetry commits.
      const state = await deps.telemetry.betweenCommits(() => captureState(deps.db.root, deps.dataDir));
      return writeBackup(request.path, deps.dataDir, state, progress);
    },
  };
}

export interface BackupCommandContext {
  config: HearthConfig;
  out(line: string): void;
  err(line: string): void;
}

/** Runs `hearth backup FILE`; returns the exit code. */
export async function runBackupCommand(argv: string[], context?: Partial<BackupCommandContext>): Promise<number> {
  const out = context?.out ?? ((line: string) => process.stdout.write(`${line}\n`));
  const err = context?.err ?? ((line: string) => process.stderr.write(`${line}\n`));
  if (argv.length !== 1 || argv[0]!.startsWith('-')) {
    err('usage: hearth backup FILE');
    return 2;
  }
  const config = context?.config ?? loadConfig();
  const path = resolve(argv[0]!);
  const bar = progressLine();
  const show = (p: BackupProgress) => bar.update(`backup: ${p.entries} entries, ${p.files} files, ${formatBytes(p.bytes)}`);
  try {
    const summary = await backup(config.dataDir, path, show);
    bar.done();
    out(`${summary.path}: ${summary.entries} database entries, ${summary.files} files (${formatBytes(summary.bytes)} before compression)`);
    return 0;
  } catch (e) {
    bar.done();
    err(`hearth backup: ${(e as Error).message}`);
    return 1;
  }
}

async function backup(dataDir: string, path: string, onProgress: (p: BackupProgress) => void): Promise<BackupSummary> {
  const dbPath = join(dataDir, 'db');
  // Raw LevelDB, not storage/db.ts: a backup copies the bytes as they are (no migration, no write).
  const db = new Level<Buffer, Buffer>(dbPath, { keyEncoding: 'buffer', valueEncoding: 'buffer', createIfMissing: false });
  try {
    await db.open();
  } catch (e) {
    const cause = (e as { cause?: { message?: string } }).cause?.message ?? '';
    if (/lock/i.test(cause)) {
      // The gateway holds the database: it writes the backup. No idle timeout worth the name: it
      // reports progress while it works, and a large media folder takes a while.
      const request: BackupWriteRequest = { op: 'backup.write', path };
      return (await callAdminSocket(adminSocketPath(dataDir), request, 120_000, (p) => onProgress(p as BackupProgress))) as BackupSummary;
    }
    if (/does not exist/i.test(cause)) throw new Error(`no database at ${dbPath}: nothing to back up`);
    throw e;
  }
  try {
    // Stopped: nothing else writes, so the journal read beside the iterator is consistent.
    return await writeBackup(path, dataDir, await captureState(db, dataDir), onProgress);
  } finally {
    await db.close();
  }
}

/** Runs `hearth restore FILE [--force]`; returns the exit code. */
export async function runRestoreCommand(argv: string[], context?: Partial<BackupCommandContext>): Promise<number> {
  const out = context?.out ?? ((line: string) => process.stdout.write(`${line}\n`));
  const err = context?.err ?? ((line: string) => process.stderr.write(`${line}\n`));
  const force = argv.includes('--force');
  const rest = argv.filter((a) => a !== '--force');
  if (rest.length !== 1 || rest[0]!.startsWith('-')) {
    err('usage: hearth restore FILE [--force]');
    return 2;
  }
  const config = context?.config ?? loadConfig();
  const bar = progressLine();
  try {
    const summary = await restoreBackup(resolve(rest[0]!), config.dataDir, {
      force,
      onProgress: (p) => bar.update(`restore: ${Math.floor((100 * p.read) / Math.max(1, p.total))}% (${p.entries} entries, ${p.files} files)`),
    });
    bar.done();
    out(`restored ${summary.entries} database entries and ${summary.files} files into ${config.dataDir}`);
    return 0;
  } catch (e) {
    bar.done();
    err(`hearth restore: ${(e as Error).message}`);
    return e instanceof RestoreRefusedError ? 3 : 1;
  }
}
