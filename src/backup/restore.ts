/**
 * Restoring a backup (docs/cli.md "hearth restore") into a data directory of a stopped gateway.
 *
 * Refused when the directory is live (its admin socket answers, or LevelDB's lock on `<data>/db`
 * is held), and when it already holds Hearth data unless `force`. Everything is written into
 * `<data>/restore.partial/` first and moved into place only once the whole archive has been read
 * and its end record checked, so a cut-off archive or a full disk leaves the directory as it was.
 */
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { connect } from 'node:net';
import { dirname, join } from 'node:path';
import { Level } from 'level';
import { adminSocketPath } from '../admin/socket.js';
import { ARCHIVED_KEY_FILES, readArchive, TELEMETRY_JOURNAL_FILE } from './archive.js';

export interface RestoreProgress {
  entries: number;
  files: number;
  /** Compressed bytes of the archive read so far, and its size. */
  read: number;
  total: number;
}

export interface RestoreSummary {
  entries: number;
  files: number;
}

/** What `restore` would replace in a data directory: the items a backup brings. */
const RESTORED_ITEMS = ['db', 'db.durable', 'media', TELEMETRY_JOURNAL_FILE, ...ARCHIVED_KEY_FILES];
const STAGING = 'restore.partial';
/** Entries per LevelDB batch: large enough to be quick, small enough to bound memory. */
const BATCH_ENTRIES = 1000;

export class RestoreRefusedError extends Error {
  override name = 'RestoreRefusedError';
}

export async function restoreBackup(archive: string, dataDir: string, opts: { force?: boolean; onProgress?: (p: RestoreProgress) => void } = {}): Promise<RestoreSummary> {
  const total = (await stat(archive)).size;
  await refuseLiveDirectory(dataDir);
  const existing = await existingData(dataDir);
  if (existing.length > 0 && !opts.force) {
    throw new RestoreRefusedError(`${dataDir} already holds Hearth data (${existing.join(', ')}): restore with --force to replace it`);
  }
  const staging = join(dataDir, STAGING);
  await rm(staging, { recursive: true, force: true });
  await mkdir(staging, { recursive: true });
  let summary: RestoreSummary;
  try {
    summary = await unpack(archive, staging, total, opts.onProgress);
  } catch (err) {
    await rm(staging, { recursive: true, force: true });
    throw err;
  }
  // Complete: now replace what was there (with --force) by what was restored.
  for (const item of existing) await rm(join(dataDir, item), { recursive: true, force: true });
  for (const item of await readdir(staging)) await rename(join(staging, item), join(dataDir, item));
  await rm(staging, { recursive: true, force: true });
  return summary;
}

/** The gateway running on this directory: its admin socket accepts, or the database lock is held. */
async function refuseLiveDirectory(dataDir: string): Promise<void> {
  if (await socketAnswers(adminSocketPath(dataDir))) {
    throw new RestoreRefusedError(`a gateway is running on ${dataDir}: stop it first (systemctl stop hearth)`);
  }
  const dbPath = join(dataDir, 'db');
  if (!(await exists(dbPath))) return;
  const db = new Level<Buffer, Buffer>(dbPath, { keyEncoding: 'buffer', valueEncoding: 'buffer', createIfMissing: false });
  try {
    await db.open();
  } catch (err) {
    const cause = (err as { cause?: { message?: string } }).cause?.message ?? '';
    if (/lock/i.test(cause)) throw new RestoreRefusedError(`the database at ${dbPath} is in use by another process: stop the gateway first`);
    // A database that does not open is replaced like any other (with --force).
    return;
  }
  await db.close();
}

function socketAnswers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(path);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

async function existingData(dataDir: string): Promise<string[]> {
  const found: string[] = [];
  for (const item of RESTORED_ITEMS) {
    if (item === 'media') {
      if ((await readdir(join(dataDir, item)).catch(() => [])).length > 0) found.push(item);
    } else if (await exists(join(dataDir, item))) found.push(item);
  }
  return found;
}

async function unpack(archive: string, into: string, total: number, onProgress?: (p: RestoreProgress) => void): Promise<RestoreSummary> {
  const db = new Level<Buffer, Buffer>(join(into, 'db'), { keyEncoding: 'buffer', valueEncoding: 'buffer' });
  await db.open();
  let batch = db.batch();
  let entries = 0;
  let files = 0;
  let read = 0;
  let lastReport = 0;
  const report = (force = false) => {
    const now = Date.now();
    if (!onProgress || (!force && now - lastReport < 200)) return;
    lastReport = now;
    onProgress({ entries, files, read, total });
  };
  let complete = false;
  try {
    for await (const record of readArchive(archive, (bytes) => (read = bytes))) {
      if (record.kind === 'entry') {
        batch.put(record.key, record.value);
        if (++entries % BATCH_ENTRIES === 0) {
          await batch.write();
          batch = db.batch();
        }
      } else if (record.kind === 'file') {
        const target = join(into, ...record.path.split('/'));
        await mkdir(dirname(target), { recursive: true });
        const out = createWriteStream(target, { mode: 0o600 });
        for await (const chunk of record.chunks) if (!out.write(chunk)) await once(out, 'drain');
        out.end();
        await once(out, 'close');
        files++;
      } else {
        complete = true;
      }
      report();
    }
    if (!complete) throw new Error(`${archive} ends without its end record: it is incomplete`);
    await batch.write();
    report(true);
  } finally {
    // Closing a written batch does nothing; an unwritten one (a failed restore) is dropped.
    await batch.close().catch(() => undefined);
    await db.close();
  }
  return { entries, files };
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}
