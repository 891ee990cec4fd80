/**
 * `hearth doctor [--repair]`: checks what keeps a gateway from working, each finding with what to
 * do (docs/cli.md): the database files (doctor/database.ts; the gateway must be stopped for it, and
 * `--repair` repairs them), the ports (doctor/ports.ts), disk space and SD-card wear
 * (doctor/disk.ts), the clock (doctor/clock.ts), the signing key and TLS certificate
 * (doctor/certificates.ts), the MQTT broker (doctor/mqtt.ts), and whether other servers reach the
 * gateway and it them (doctor/federation.ts). What can only be seen on a running gateway is asked
 * over its admin socket (`gateway.status`); what needs it stopped is said to. Exit 0: no errors
 * (warnings may remain); 1: errors; 2: bad usage, or `--repair` on a running gateway.
 */
import { cpSync, existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig, type HearthConfig } from '../config/config.js';
import { adminSocketPath, callAdminSocket } from '../admin/socket.js';
import type { GatewayStatus } from '../admin/gateway-status.js';
import { checkDatabaseFiles, repairDatabase, type DatabaseReport } from './doctor/database.js';
import { checkPorts } from './doctor/ports.js';
import { checkDisk } from './doctor/disk.js';
import { checkClock } from './doctor/clock.js';
import { checkKeys } from './doctor/certificates.js';
import { checkMqtt } from './doctor/mqtt.js';
import { checkFederation } from './doctor/federation.js';
import { formatFindings, type Check, type DoctorContext, type Finding } from './doctor/findings.js';

export interface DoctorCommandContext {
  config: HearthConfig;
  out(line: string): void;
  err(line: string): void;
  /** The clock the checks judge by; tests inject a wrong one. */
  now(): number;
}

const USAGE = 'usage: hearth doctor [--repair]';
const REPAIR_FIX = 'stop the gateway, then run "hearth doctor --repair" (it copies the database aside first)';

/** The checks after the database's, in the order printed. */
const CHECKS: Check[] = [checkPorts, checkDisk, checkClock, checkKeys, checkMqtt, checkFederation];

export async function runDoctorCommand(args: string[], context?: Partial<DoctorCommandContext>): Promise<number> {
  const out = context?.out ?? ((line: string) => process.stdout.write(`${line}\n`));
  const err = context?.err ?? ((line: string) => process.stderr.write(`${line}\n`));
  const repair = args.includes('--repair');
  const unknown = args.filter((a) => a !== '--repair');
  if (unknown.length > 0) {
    err(`hearth doctor: unknown argument "${unknown[0]}"\n${USAGE}`);
    return 2;
  }
  const config = context?.config ?? loadConfig();
  const findings: Finding[] = [];
  let running: GatewayStatus | undefined;
  try {
    running = await runningGateway(config, findings);
  } catch (e) {
    if (!(e instanceof OlderGatewayError)) throw e;
    // Its ports are its own, yet it cannot say so: every other finding would mislead.
    for (const line of formatFindings([{ check: 'gateway', level: 'error', message: e.message }])) out(line);
    return 1;
  }
  const dbPath = join(config.dataDir, 'db');
  if (repair && running) {
    err(`hearth doctor: the database at ${dbPath} is in use: stop the gateway first (systemctl stop hearth)`);
    return 2;
  }
  out(`hearth doctor: ${config.dataDir}, ${running ? `gateway running (pid ${running.pid}, ${running.version})` : 'gateway stopped'}`);

  const db = await checkDatabase(dbPath, running !== undefined);
  if (db.lockedByOther && repair) {
    err(`hearth doctor: the database at ${dbPath} is in use: stop the gateway first (systemctl stop hearth)`);
    return 2;
  }
  findings.push(...db.findings);
  const doctorContext: DoctorContext = { config, running, now: context?.now ?? Date.now };
  for (const check of CHECKS) {
    try {
      findings.push(...(await check(doctorContext)));
    } catch (e) {
      findings.push({ check: check.name.replace(/^check/, '').toLowerCase(), level: 'error', message: `the check failed: ${(e as Error).message}`, fix: 'report this with the message' });
    }
  }
  for (const line of formatFindings(findings)) out(line);

  if (repair && db.report && db.report.problems.length > 0) {
    const repaired = await repairWithBackup(dbPath, out);
    const after = findings.filter((f) => f.check !== 'database');
    out('\nafter repair:');
    for (const line of formatFindings([...repaired, ...after])) out(line);
    return [...repaired, ...after].some((f) => f.level === 'error') ? 1 : 0;
  }
  return findings.some((f) => f.level === 'error') ? 1 : 0;
}

/** A gateway started from an older version answers the socket but knows no `gateway.status`. */
class OlderGatewayError extends Error {
  constructor() {
    super('the running gateway is an older version than this command (it does not know gateway.status): restart it (systemctl restart hearth), then run doctor again');
  }
}

/** The running gateway's summary, or undefined when none answers (a problem other than "not running" is a finding). */
async function runningGateway(config: HearthConfig, findings: Finding[]): Promise<GatewayStatus | undefined> {
  const socket = adminSocketPath(config.dataDir);
  try {
    return (await callAdminSocket(socket, { op: 'gateway.status' }, 10_000)) as GatewayStatus;
  } catch (e) {
    const message = (e as Error).message;
    if (/^unknown operation/.test(message)) throw new OlderGatewayError();
    if (!/ENOENT|ECONNREFUSED/.test(message)) {
      findings.push({ check: 'gateway', level: 'error', message: `the admin socket ${socket} does not answer as it should: ${message}`, fix: 'the gateway may be hung: check its log (journalctl -u hearth) and restart it' });
    }
    return undefined;
  }
}

async function checkDatabase(path: string, running: boolean): Promise<{ findings: Finding[]; report?: DatabaseReport; lockedByOther?: boolean }> {
  const check = 'database';
  if (running) {
    return { findings: [{ check, level: 'info', message: `the running gateway holds ${path}: its files are checked with the gateway stopped`, fix: 'systemctl stop hearth; hearth doctor; systemctl start hearth' }] };
  }
  if (!existsSync(path)) return { findings: [{ check, level: 'info', message: `no database at ${path} yet: the first start (or hearth init) creates it` }] };
  let report: DatabaseReport;
  try {
    report = await checkDatabaseFiles(path);
  } catch (err) {
    const cause = (err as { cause?: { message?: string } }).cause?.message;
    const message = `${err instanceof Error ? err.message : String(err)}${cause ? `: ${cause}` : ''}`;
    if (/lock/i.test(cause ?? message)) {
      return {
        lockedByOther: true,
        findings: [{ check, level: 'error', message: `${path} is in use by a process that does not answer on the admin socket (a gateway starting, hung, or of another version)`, fix: 'stop the gateway first (systemctl stop hearth), then run doctor again' }],
      };
    }
    report = { problems: [`the database does not open: ${message}`], notes: [], entries: 0, tables: 0 };
  }
  return { findings: databaseFindings(report), report };
}

function databaseFindings(report: DatabaseReport): Finding[] {
  const findings: Finding[] = report.notes.map((note) => ({ check: 'database', level: 'warning', message: note, fix: 'nothing to repair; restore from a backup if messages are missing' }));
  for (const problem of report.problems) findings.push({ check: 'database', level: 'error', message: problem, fix: REPAIR_FIX });
  if (report.problems.length === 0) findings.push({ check: 'database', level: 'ok', message: `${report.entries} entries in ${report.tables} table files, no damage found` });
  return findings;
}

async function repairWithBackup(path: string, out: (line: string) => void): Promise<Finding[]> {
  const backup = `${path}.before-repair-${new Date().toISOString().replace(/[:.]/g, '-')}`;
  cpSync(path, backup, { recursive: true });
  out(`\ncopied the database to ${backup}\nrepairing (LevelDB repair)...`);
  await repairDatabase(path);
  const lost = existsSync(join(path, 'lost')) ? readdirSync(join(path, 'lost')) : [];
  if (lost.length > 0) out(`unreadable files moved to ${join(path, 'lost')}: ${lost.join(', ')}`);
  const after = await checkDatabaseFiles(path).catch((err: unknown) => ({
    problems: [`the database does not open: ${err instanceof Error ? err.message : String(err)}`],
    notes: [],
    entries: 0,
    tables: 0,
  }));
  return databaseFindings(after);
}
