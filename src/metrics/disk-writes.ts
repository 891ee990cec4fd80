/**
 * How much the gateway writes to its disk, over hours and days: the wear an SD card takes (issue 14:
 * "how hard the SD card is being written"). The source is the kernel's count of bytes this process
 * sent to the storage layer, `/proc/self/io` `write_bytes` (less `cancelled_write_bytes`: pages
 * dirtied and then truncated away, such as a LevelDB log deleted before writeback), which counts
 * every thread: LevelDB's compactions included, the page cache and socket writes not.
 *
 * The counter starts at zero with each process, so the gateway keeps the history itself: per clock
 * hour, the bytes written and the seconds it was sampled, for the last week, in
 * `<data>/disk-writes.json` (written when a sample lands in a new hour and at stop: one small file
 * an hour at most). A rate is bytes over sampled seconds, so hours the gateway was stopped do not
 * dilute it.
 *
 * Samples are taken when the gateway's figures are asked for (status/gateway-figures.ts: the status
 * page every 10 s while it is open, `hearth status`, `hearth doctor`), once an hour, and at stop.
 * What was written between two samples is spread evenly over the clock hours between them (by the
 * monotonic clock, so a wall clock set forward by years at boot does not make years of hours). A
 * crash loses what was written since the last sample that reached the file: an hour or two at most
 * (writing the file more often would itself wear the card: at 168 hours it is ~10 KB a write).
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
  /** Wall clock (ms since the epoch): which clock hour a sample falls in. */
  now?: () => number;
}

export class DiskWriteHistory {
  private hours: HourOfWrites[] = [];
  /** The counter at the last sample, and when (monotonic ms). */
  private last: { bytes: number; t: number } | undefined;
  private persistedHourMs: number | undefined;
  private readonly file: string;
  private readonly dataDir: string;
  private readonly now: () => number;

  constructor(deps: DiskWriteHistoryDeps) {
    this.dataDir = deps.dataDir;
    this.file = join(deps.dataDir, DISK_WRITES_FILE);
    this.now = deps.now ?? Date.now;
  }

  /** Loads the history a previous run left. */
  async load(): Promise<void> {
    this.hours = await readDiskWriteHistory(this.dataDir);
  }

  /**
   * The counter read at `t` (monotonic ms, performance.now): what was written since the last sample
   * is spread over the clock hours since then, the last week of them at most.
   */
  record(bytes: number, t: number): void {
    const last = this.last;
    this.last = { bytes, t };
    if (last === undefined || t <= last.t) return;
    const gapMs = t - last.t;
    const written = Math.max(0, bytes - last.bytes);
    const endMs = this.now();
    // Older than the kept week: dropped with its share of the bytes.
    const startMs = endMs - Math.min(gapMs, KEPT_HOURS * HOUR_MS);
    let assigned = 0;
    for (let hourMs = startMs - (startMs % HOUR_MS); hourMs < endMs; hourMs += HOUR_MS) {
      const spanMs = Math.min(endMs, hourMs + HOUR_MS) - Math.max(startMs, hourMs);
      const isLast = hourMs + HOUR_MS >= endMs;
      // Whole bytes; the last hour takes the rounding's remainder.
      const share = isLast ? Math.round((written * (endMs - startMs)) / gapMs) - assigned : Math.round((written * spanMs) / gapMs);
      assigned += share;
      this.add(hourMs, Math.max(0, share), spanMs / 1000);
    }
    const newest = this.hours[this.hours.length - 1]?.hourMs;
    if (this.persistedHourMs !== undefined && newest !== this.persistedHourMs) this.persist();
    this.persistedHourMs ??= newest;
  }

  /** A last sample's bytes (taken by the caller), written to the file. */
  stop(): void {
    this.persist();
  }

  /** The hours kept, the current one up to the last sample. */
  history(): HourOfWrites[] {
    return this.hours.map((h) => ({ ...h }));
  }

  private add(hourMs: number, bytes: number, seconds: number): void {
    let i = this.hours.length - 1;
    while (i >= 0 && this.hours[i]!.hourMs > hourMs) i--;
    let hour = this.hours[i];
    if (hour?.hourMs !== hourMs) {
      // Usually at the end; before it only when the wall clock was set back.
      hour = { hourMs, bytes: 0, seconds: 0 };
      this.hours.splice(i + 1, 0, hour);
      if (this.hours.length > KEPT_HOURS) this.hours.splice(0, this.hours.length - KEPT_HOURS);
    }
    hour.bytes += bytes;
    hour.seconds = Math.min(3600, Math.round((hour.seconds + seconds) * 1000) / 1000);
  }

  private persist(): void {
    if (this.hours.length === 0) return;
    const temp = `${this.file}.tmp`;
    try {
      writeFileSync(temp, JSON.stringify({ version: 1, source: '/proc/self/io write_bytes', hours: this.hours }), { mode: 0o600 });
      renameSync(temp, this.file);
      this.persistedHourMs = this.hours[this.hours.length - 1]!.hourMs;
    } catch {
      // A full or read-only disk: the history is a convenience; the gateway's own writes matter more.
    }
  }
}
