/**
 * Writing a backup (docs/cli.md "hearth backup"): every LevelDB key/value as of one snapshot, the
 * telemetry journal as of the same moment, the signing keys and the media files.
 *
 * Consistency: LevelDB iterators read an implicit snapshot taken when they are created, so the
 * database part is one point in time however long the copy takes. The journal holds the readings
 * after the snapshot's last checkpoint; it is read together with the snapshot while no group commit
 * runs (`TelemetryStore.betweenCommits` in a running gateway; nothing runs when it is stopped).
 * Media files are immutable once their record exists, and copied after the snapshot: every file the
 * snapshot names is there (a file deleted since is left out, an upload finished since is carried
 * but unreferenced, which is harmless).
 */
import { createReadStream } from 'node:fs';
import { readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Level } from 'level';
import { ARCHIVED_KEY_FILES, ArchiveWriter, TELEMETRY_JOURNAL_FILE } from './archive.js';

export interface BackupProgress {
  entries: number;
  files: number;
  /** Bytes put into the archive so far (before compression). */
  bytes: number;
}

export interface BackupSummary extends BackupProgress {
  path: string;
}

/** What a backup copies at its consistent point: a database iterator and the journal's bytes. */
export interface CapturedState {
  entries: AsyncIterable<[Buffer, Buffer]> & { close(): Promise<void> };
  journal: Buffer | undefined;
}

/** Opens the snapshot iterator and reads the journal; call it where no telemetry commit can run. */
export async function captureState(root: Level<Buffer, Buffer>, dataDir: string): Promise<CapturedState> {
  // Created first and synchronously: the snapshot is the state at this call.
  const entries = root.iterator({ fillCache: false });
  const journal = await readFile(join(dataDir, TELEMETRY_JOURNAL_FILE)).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  });
  return { entries, journal };
}

/**
 * Writes the archive to `<path>.partial` and renames it to `path` once complete, so an interrupted
 * backup never leaves a file that looks like a backup.
 */
export async function writeBackup(path: string, dataDir: string, state: CapturedState, onProgress?: (p: BackupProgress) => void): Promise<BackupSummary> {
  const partial = `${path}.partial`;
  const writer = await ArchiveWriter.create(partial);
  let lastReport = 0;
  const report = (force = false) => {
    const now = Date.now();
    if (!force && now - lastReport < 200) return;
    lastReport = now;
    onProgress?.(writer.counts);
  };
  try {
    try {
      for await (const [key, value] of state.entries) {
        await writer.entry(key, value);
        report();
      }
    } finally {
      await state.entries.close();
    }
    if (state.journal) await writer.file(TELEMETRY_JOURNAL_FILE, state.journal.length, [state.journal]);
    for (const name of ARCHIVED_KEY_FILES) {
      const bytes = await readFile(join(dataDir, name)).catch(() => undefined);
      if (bytes) await writer.file(name, bytes.length, [bytes]);
    }
    for (const id of await mediaIds(dataDir)) {
      const file = join(dataDir, 'media', id);
      const size = await stat(file).then((s) => s.size).catch(() => undefined);
      if (size === undefined) continue; // deleted since the snapshot
      await writer.file(`media/${id}`, size, createReadStream(file));
      report();
    }
    await writer.finish();
    report(true);
  } catch (err) {
    await writer.abort();
    await rm(partial, { force: true });
    throw err;
  }
  await rename(partial, path);
  return { path, ...writer.counts };
}

/** Finished uploads only: a `.part` file is an upload in progress (or one a crash cut off). */
async function mediaIds(dataDir: string): Promise<string[]> {
  const names = await readdir(join(dataDir, 'media')).catch(() => [] as string[]);
  return names.filter((n) => /^[A-Za-z0-9_-]+$/.test(n)).sort();
}
