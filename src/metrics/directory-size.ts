/**
 * The bytes a directory tree holds on disk, measured at most once per `maxAgeMs`: a scrape every
 * 15 s must not walk LevelDB's files (hundreds on a grown gateway, on an SD card) each time.
 * Concurrent asks share one walk.
 */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';

export class DirectorySize {
  private bytes = 0;
  private measuredAt: number | undefined;
  private measuring: Promise<number> | undefined;

  constructor(
    private readonly path: string,
    private readonly maxAgeMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** The size, measured again when the last measurement is older than `maxAgeMs`. */
  async current(): Promise<number> {
    if (this.measuredAt !== undefined && this.now() - this.measuredAt < this.maxAgeMs) return this.bytes;
    this.measuring ??= sizeOfTree(this.path).then(
      (bytes) => {
        this.bytes = bytes;
        this.measuredAt = this.now();
        this.measuring = undefined;
        return bytes;
      },
      (err: unknown) => {
        this.measuring = undefined;
        throw err;
      },
    );
    return this.measuring;
  }
}

/** Sum of the regular files' sizes under `path`; files removed during the walk (compactions) count 0. */
async function sizeOfTree(path: string): Promise<number> {
  let total = 0;
  let entries;
  try {
    entries = await readdir(path, { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw err;
  }
  for (const entry of entries) {
    const child = join(path, entry.name);
    if (entry.isDirectory()) {
      total += await sizeOfTree(child);
    } else if (entry.isFile()) {
      try {
        total += (await stat(child)).size;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    }
  }
  return total;
}
