/**
 * What `hearth doctor`'s checks report: one finding per thing looked at, with its level and, for
 * anything not ok, what to do. `error`: the gateway cannot work right (exit 1); `warning`: it works,
 * but will not for long or not for everyone; `info`: could not be checked now, and why.
 */
import type { HearthConfig } from '../../config/config.js';
import type { GatewayStatus } from '../../admin/gateway-status.js';

export type FindingLevel = 'ok' | 'info' | 'warning' | 'error';

export interface Finding {
  check: string;
  level: FindingLevel;
  message: string;
  /** What to do (absent for ok). */
  fix?: string;
}

export interface DoctorContext {
  config: HearthConfig;
  /** The running gateway's summary; undefined while it is stopped. */
  running: GatewayStatus | undefined;
  /** The clock the checks judge by (tests inject one). */
  now(): number;
}

export type Check = (context: DoctorContext) => Promise<Finding[]>;

/** A listener's bind address, as a client on this machine reaches it. */
export function localAddressOf(bindAddress: string): string {
  if (bindAddress === '0.0.0.0' || bindAddress === '') return '127.0.0.1';
  if (bindAddress === '::' || bindAddress === '[::]') return '::1';
  return bindAddress;
}

export function formatFindings(findings: readonly Finding[]): string[] {
  const lines: string[] = [];
  const width = Math.max(...findings.map((f) => f.check.length));
  for (const f of findings) {
    const level = f.level === 'error' ? 'ERROR' : f.level;
    lines.push(`${level.padEnd(7)}  ${f.check.padEnd(width)}  ${f.message}`);
    if (f.fix && f.level !== 'ok') lines.push(`${' '.repeat(9 + width)}  -> ${f.fix}`);
  }
  const errors = findings.filter((f) => f.level === 'error').length;
  const warnings = findings.filter((f) => f.level === 'warning').length;
  lines.push('', errors + warnings === 0 ? 'no problems found' : `${errors} error${errors === 1 ? '' : 's'}, ${warnings} warning${warnings === 1 ? '' : 's'}`);
  return lines;
}
