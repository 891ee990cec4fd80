/** Reads a process's resource use from Linux /proc (proc(5)). */
import { readFileSync, writeFileSync } from 'node:fs';

/** `write_bytes` from /proc/<pid>/io: bytes this process caused to be sent to the storage layer. */
export function writeBytes(pid: number): number {
  const match = /^write_bytes:\s+(\d+)$/m.exec(readFileSync(`/proc/${pid}/io`, 'utf8'));
  if (!match) throw new Error(`no write_bytes in /proc/${pid}/io`);
  return Number(match[1]);
}

/** Resident set size in bytes (VmRSS from /proc/<pid>/status). */
export function rssBytes(pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!match) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(match[1]) * 1024;
}

/** Peak resident set size in bytes (VmHWM from /proc/<pid>/status). */
export function peakRssBytes(pid: number): number {
  const match = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!match) throw new Error(`no VmHWM in /proc/${pid}/status`);
  return Number(match[1]) * 1024;
}

/**
 * Resets the peak (VmHWM) to the current RSS (proc(5), /proc/<pid>/clear_refs: "5"), so that a later
 * peakRssBytes() is the peak of what follows. False when the kernel refuses (not our process).
 */
export function resetPeakRss(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}
