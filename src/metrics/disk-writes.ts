/**
 * How much the gateway writes to its disk, over hours and days: the wear an SD card takes (issue 14:
 * "how hard the SD card is being written"). The source is the kernel's count of bytes this process
 * sent to the storage layer, `/proc/self/io` `write_bytes` (less `cancelled_write_bytes`: pages
 * dirtied and then truncated away, such as a LevelDB log deleted before writeback), which counts
 * every thread: LevelDB's compactions included, the page cache and socket writes not.
 *
 * The counter starts at zero with each process, so the gateway keeps the history itself: per clock
 * hour, the bytes written and the seconds it was sampled, for the last week, in
 * `<data>/disk-writes.json` (written when the hour changes and at stop: one small file an hour).
 * A rate is bytes over sampled seconds, so hours the gateway was stopped do not dilute it. A clean
 * stop loses at most the last unsampled minute; a crash, the current hour (writing the file more
 * often would itself wear the card: at 168 hours it is ~10 KB a write).
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

export const DISK_WRITES_FILE = 'disk-writes.json';
const HOUR_MS = 3600_000;
/** A week of hours: enough for a daily rate that is not one busy day; the file stays ~10 KB. */
export const KEPT_HOURS = 7 * 24;

export interface HourOfWrites {
  /** Start of the clock hour (ms since the epoch). */
  hourMs: number;
  bytes: number;
  /** Seconds of that hour the gateway ran and was sampled. */
  seconds: number;
}

/** Bytes the process has written to storage, or undefined where the kernel does not say (not Linux). */
export function processWriteBytes(text?: string): number | undefined {
  let io = text;
  if (io === undefined) {
    try {
      io = readFileSync('/proc/self/io', 'utf8');
    } catch {
      return undefined;
    }
  }
  const field = (name: string) => {
    const m = new RegExp(`^${name}:\\s*(\\d+)$`, 'm').exec(io);
    return m ? Number(m[1]) : undefined;
  };
  const written = field('write_bytes');
  if (written === undefined) return undefined;
  return Math.max(0, written - (field('cancelled_write_bytes') ?? 0));
}

/** The hours in a history file; anything malformed is dropped rather than trusted. */
export function parseHistory(text: string): HourOfWrites[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return [];
  }
  const hours = (parsed as { hours?: unknown } | null)?.hours;
  if (!Array.isArray(hours)) return [];
  const ok = (n: unknown): n is number => typeof n === 'number' && Number.isFinite(n) && n >= 0;
  return hours
    .filter((h): h is HourOfWrites => h !== null && typeof h === 'object' && ok(h.hourMs) && ok(h.bytes) && ok(h.seconds) && h.seconds <= 3600)
    .map(({ hourMs, bytes, seconds }) => ({ hourMs, bytes, seconds }))
    .slice(-KEPT_HOURS);
}

/** Bytes per second over the hours since `sinceMs` (sampled time only); undefined without samples. */
export function writeRate(hours: readonly HourOfWrites[], sinceMs: number): { bytesPerSecond: number; seconds: number } | undefined {
  let bytes = 0;
  let seconds = 0;
  for (const h of hours) {
    if (h.hourMs + HOUR_MS <= sinceMs) continue;
    bytes += h.bytes;
    seconds += h.seconds;
  }
  return seconds > 0 ? { bytesPerSecond: bytes / seconds, seconds } : undefined;
}

/** The history a stopped gateway left (for `hearth doctor`). */
export async function readDiskWriteHistory(dataDir: string): Promise<HourOfWrites[]> {
  try {
    return parseHistory(await readFile(join(dataDir, DISK_WRITES_FILE), 'utf8'));
  } catch {
    return [];
  }
}

export interface DiskWriteHistoryDeps {
  dataDir: string;
  read?: () => number | undefined;
  now?: () => number;
}

export class DiskWriteHistory {
  private hours: HourOfWrites[] = [];
  private last: { bytes: number; atMs: number } | undefined;
  private persistedHourMs: number | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly file: string;
  private readonly read: () => number | undefined;
  private readonly now: () => number;
  /** False where the kernel gives no count: nothing is kept. */
  readonly available: boolean;

  constructor(deps: DiskWriteHistoryDeps) {
    this.file = join(deps.dataDir, DISK_WRITES_FILE);
    this.read = deps.read ?? (() => processWriteBytes());
    this.now = deps.now ?? Date.now;
    this.available = this.read() !== undefined;
  }

  /** Loads the history and takes the first sample; samples every `intervalMs` until `stop`. */
  async start(intervalMs = 60_000): Promise<void> {
    if (!this.available) return;
    this.hours = await readDiskWriteHistory(this.file.slice(0, -DISK_WRITES_FILE.length - 1));
    this.sample();
    this.timer = setInterval(() => this.sample(), intervalMs).unref();
  }

  /** A last sample, written to the file. */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (!this.available) return;
    this.sample();
    this.persist();
  }

  /** Adds what was written since the last sample to the current hour. */
  sample(): void {
    const bytes = this.read();
    const atMs = this.now();
    if (bytes === undefined) return;
    if (this.last !== undefined && atMs > this.last.atMs) {
      const hourMs = atMs - (atMs % HOUR_MS);
      let hour = this.hours[this.hours.length - 1];
      if (hour?.hourMs !== hourMs) {
        hour = { hourMs, bytes: 0, seconds: 0 };
        this.hours.push(hour);
        if (this.hours.length > KEPT_HOURS) this.hours.splice(0, this.hours.length - KEPT_HOURS);
      }
      hour.bytes += Math.max(0, bytes - this.last.bytes);
      hour.seconds = Math.min(3600, Math.round(hour.seconds * 1000 + (atMs - this.last.atMs)) / 1000);
      if (this.persistedHourMs !== undefined && this.persistedHourMs !== hourMs) this.persist();
      this.persistedHourMs ??= hourMs;
    }
    this.last = { bytes, atMs };
  }

  /** The hours kept, the current one up to the last sample. */
  history(): HourOfWrites[] {
    return this.hours.map((h) => ({ ...h }));
  }

  private persist(): void {
    const temp = `${this.file}.tmp`;
    try {
      writeFileSync(temp, JSON.stringify({ version: 1, source: '/proc/self/io write_bytes', hours: this.hours }), { mode: 0o600 });
      renameSync(temp, this.file);
      const last = this.hours[this.hours.length - 1];
      if (last) this.persistedHourMs = last.hourMs;
    } catch {
      // A full or read-only disk: the history is a convenience; the gateway's own writes matter more.
    }
  }
}
