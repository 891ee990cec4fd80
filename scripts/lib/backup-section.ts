/**
 * `make bench --only backup` (issue 14, "backup speed"): a Hearth with a room of N messages and a
 * few media files, then, in the same run and on the same data directory:
 *  - `hearth backup FILE` while the gateway runs (the online, consistent archive of docs/cli.md),
 *    against `tar -c | gzip -1` of the same directory (the same bytes read and compressed at the
 *    same gzip level, with no snapshot and no record framing: what a plain copy costs);
 *  - `hearth restore FILE` into an empty directory, against `gzip -dc | tar -x` of the tarball.
 * Speeds are the data directory's size over the wall time of each command (the CLI's own start,
 * ~0.3 s from the bundle, included, as an operator sees it).
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { setUpRoom } from './cs-workload.js';
import { JsonHttpClient } from './http-client.js';
import { startHearth, type HearthLaunch } from './processes.js';
import type { ResultRow } from './report.js';
import { runConcurrently } from './stats.js';

const run = promisify(execFile);
const MB = 1024 * 1024;
const SECTION = 'Backup';

export interface BackupSizes {
  messages: number;
  /** Media files of `mediaBytes` random (incompressible) bytes each. */
  mediaFiles: number;
  mediaBytes: number;
}

async function timed(work: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await work();
  return performance.now() - start;
}

/** Bytes of every file below `dir` (du's apparent size). */
async function treeBytes(dir: string): Promise<number> {
  const { stdout } = await run('du', ['-sb', dir]);
  return Number(stdout.split('\t')[0]);
}

export async function backupSection(launch: HearthLaunch, sizes: BackupSizes, log: (line: string) => void): Promise<ResultRow[]> {
  const work = mkdtempSync(join(tmpdir(), 'hearth-bench-backup-'));
  const hearth = await startHearth(launch);
  try {
    const client = new JsonHttpClient(hearth.clientUrl);
    const room = await setUpRoom(client);
    await runConcurrently(sizes.messages, 16, async (i) => {
      await client.ok('PUT', `/_matrix/client/v3/rooms/${encodeURIComponent(room.alice.roomId)}/send/m.room.message/bk-${i}`, { msgtype: 'm.text', body: `backup bench message ${i}` }, room.alice.token);
    });
    client.close();
    for (let i = 0; i < sizes.mediaFiles; i++) {
      const res = await fetch(`${hearth.clientUrl}/_matrix/media/v3/upload`, {
        method: 'POST',
        headers: { authorization: `Bearer ${room.alice.token}`, 'content-type': 'application/octet-stream' },
        body: new Uint8Array(randomBytes(sizes.mediaBytes)),
      });
      if (res.status !== 200) throw new Error(`upload: ${res.status} ${await res.text()}`);
    }
    // Let the last batches settle, so both copies read the same directory.
    await new Promise((done) => setTimeout(done, 2000));
    const dataBytes = await treeBytes(hearth.dataDir);
    log(`bench: backup: ${sizes.messages} messages and ${sizes.mediaFiles} media files, data directory ${(dataBytes / MB).toFixed(1)} MB`);

    const cli = (args: string[], env: NodeJS.ProcessEnv) => run(process.execPath, [...hearth.cli, ...args], { env: { ...process.env, ...env }, maxBuffer: 16 * MB });
    const archive = join(work, 'hearth.backup');
    const tarball = join(work, 'data.tar.gz');
    // Alternate the two, twice, and keep the faster of each (the page cache is warm for both).
    const backupMs: number[] = [];
    const tarMs: number[] = [];
    for (let round = 0; round < 2; round++) {
      rmSync(archive, { force: true });
      backupMs.push(await timed(() => cli(['backup', archive], hearth.env)));
      tarMs.push(await timed(() => run('sh', ['-c', `tar -C "$1" -cf - . | gzip -1 > "$2"`, 'sh', hearth.dataDir, tarball])));
    }
    const archiveBytes = statSync(archive).size;
    const tarBytes = statSync(tarball).size;
    await hearth.server.stop();

    const restoreMs: number[] = [];
    const untarMs: number[] = [];
    for (let round = 0; round < 2; round++) {
      const restored = mkdtempSync(join(work, 'restored-'));
      restoreMs.push(await timed(() => cli(['restore', archive], { ...hearth.env, HEARTH_DATA_DIR: restored })));
      const untarred = mkdtempSync(join(work, 'untarred-'));
      untarMs.push(await timed(() => run('sh', ['-c', `gzip -dc "$1" | tar -C "$2" -xf -`, 'sh', tarball, untarred])));
      rmSync(restored, { recursive: true, force: true });
      rmSync(untarred, { recursive: true, force: true });
    }
    const best = (list: number[]) => Math.min(...list);
    const speed = (ms: number) => dataBytes / MB / (ms / 1000);
    const what = `${sizes.messages.toLocaleString('en')} messages + ${sizes.mediaFiles} x ${(sizes.mediaBytes / MB).toFixed(1)} MB media, ${(dataBytes / MB).toFixed(1)} MB`;
    return [
      { section: SECTION, metric: `hearth backup of a running gateway (${what}), best of 2`, unit: 'ms', hearth: best(backupMs), baseline: best(tarMs), baselineName: 'tar piped to gzip -1, the same directory' },
      { section: SECTION, metric: 'the same as speed (data directory MB per second)', unit: 'MB/s', digits: 1, hearth: speed(best(backupMs)), baseline: speed(best(tarMs)), baselineName: 'tar piped to gzip -1' },
      { section: SECTION, metric: 'archive size', unit: 'MB', digits: 1, hearth: archiveBytes / MB, baseline: tarBytes / MB, baselineName: 'the tarball' },
      { section: SECTION, metric: 'hearth restore into an empty directory, best of 2', unit: 'ms', hearth: best(restoreMs), baseline: best(untarMs), baselineName: 'gzip -dc piped to tar -x' },
    ];
  } finally {
    await hearth.server.stop().catch(() => undefined);
    rmSync(work, { recursive: true, force: true });
  }
}
