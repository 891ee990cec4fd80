/**
 * Disk space and SD-card wear (`hearth doctor`).
 *
 * Space: below `storage.min_free_bytes` the gateway refuses writes (docs/storage.md); below four
 * times that, or 10% of the file system, it soon will.
 *
 * Wear: the bytes the gateway writes per day (its own history from /proc/self/io,
 * metrics/disk-writes.ts: from the running gateway, or the file a stopped one left) against what a
 * card survives. The assumption, stated in the finding: a consumer microSD card takes about
 * `CARD_LIFETIME_WRITES` times its capacity in host writes. Its TLC flash survives some hundreds to a
 * thousand erase cycles per block, and small random writes (a database's log and compactions) cost
 * the card's controller several flash writes each (write amplification, ~3-10x on cards without
 * DRAM); "high endurance" cards are rated for roughly ten times more. The card's capacity is taken
 * as the data directory's file system size.
 */
import { statfs } from 'node:fs/promises';
import { readDiskWriteHistory, writeRate } from '../../metrics/disk-writes.js';
import { bytes, duration } from '../status.js';
import type { Check, Finding } from './findings.js';

export const CARD_LIFETIME_WRITES = 100;
const DAY_MS = 86_400_000;
/** Less history than this gives a rate dominated by the start (a fresh LevelDB, a first compaction). */
const MIN_HISTORY_SECONDS = 3600;

export const checkDisk: Check = async ({ config, running, now }) => {
  const findings: Finding[] = [];
  const fs = await statfs(config.dataDir);
  const free = fs.bavail * fs.bsize;
  const total = fs.blocks * fs.bsize;
  const minFree = config.storage.minFreeBytes;
  const space = `${bytes(free)} free of ${bytes(total)} on the file system of ${config.dataDir}`;
  if (free < minFree) {
    findings.push({ check: 'disk', level: 'error', message: `${space}: below storage.min_free_bytes (${bytes(minFree)}), so the gateway refuses writes`, fix: 'free space (old backups, logs: journalctl --vacuum-size=50M), shorten telemetry.raw_retention_days, or move the data to a larger card' });
  } else if (free < Math.max(4 * minFree, total * 0.1)) {
    findings.push({ check: 'disk', level: 'warning', message: `${space}: little room left (writes stop below ${bytes(minFree)})`, fix: 'free space or move the data to a larger card before writes stop' });
  } else {
    findings.push({ check: 'disk', level: 'ok', message: space });
  }

  let perDay: number | undefined;
  let seconds = 0;
  if (running) {
    if (running.disk.writtenPerDay !== null) {
      perDay = running.disk.writtenPerDay;
      seconds = running.disk.writeHistorySeconds;
    }
  } else {
    const rate = writeRate(await readDiskWriteHistory(config.dataDir), now() - 7 * DAY_MS);
    if (rate) {
      perDay = rate.bytesPerSecond * 86_400;
      seconds = rate.seconds;
    }
  }
  if (perDay === undefined || seconds === 0) {
    findings.push({ check: 'wear', level: 'info', message: 'no write history yet: the gateway records its writes while it runs (Linux /proc/self/io)', fix: 'run doctor again after the gateway has run a day' });
    return findings;
  }
  const endurance = total * CARD_LIFETIME_WRITES;
  const years = perDay > 0 ? endurance / perDay / 365 : Infinity;
  const estimate = `${bytes(Math.round(perDay))}/day written (measured over ${duration(Math.round(seconds))}); a card of ${bytes(total)} lasts ${years >= 100 ? 'over 100 years' : `about ${years.toFixed(1)} years`} at this rate, assuming it takes ${CARD_LIFETIME_WRITES} times its capacity in writes (a consumer microSD card)`;
  if (seconds < MIN_HISTORY_SECONDS) {
    findings.push({ check: 'wear', level: 'info', message: `${estimate}; too little history to judge`, fix: 'run doctor again after the gateway has run a day' });
  } else if (years < 1) {
    findings.push({ check: 'wear', level: 'error', message: estimate, fix: 'find what writes (hearth status, /metrics hearth_telemetry_bytes_written_total); raise bridge.throttle intervals, use storage.sync: batch, or a high-endurance card or an SSD' });
  } else if (years < 5) {
    findings.push({ check: 'wear', level: 'warning', message: estimate, fix: 'a high-endurance card lasts about ten times longer; fewer state events (bridge.throttle) write less' });
  } else {
    findings.push({ check: 'wear', level: 'ok', message: estimate });
  }
  return findings;
};
