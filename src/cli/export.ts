/**
 * `hearth export SENSOR [--from T] [--to T] [--resolution raw|5m|1h] [--csv|--json]`: one sensor's
 * history for a spreadsheet (docs/cli.md). SENSOR is a telemetry stream key,
 * `<device key>/<sensor key>` (`tasmota.plug/energy.voltage`; docs/telemetry.md).
 *
 * While the gateway runs it answers over the admin socket (`telemetry.query`): it holds the
 * database, and only it has the readings since the last checkpoint in memory. Stopped, the command
 * opens the store itself: LevelDB has no read-only mode, but the store only reads (it replays the
 * journal into memory and is closed without a checkpoint), so the data directory is left as it was.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig, type HearthConfig } from '../config/config.js';
import { Database } from '../storage/db.js';
import { TelemetryStore } from '../telemetry/store.js';
import type { QueryResult, Resolution } from '../telemetry/model.js';
import { adminSocketPath, callAdminSocket } from '../admin/socket.js';

export interface TelemetryQueryRequest {
  op: 'telemetry.query';
  sensor: string;
  from: number;
  to: number;
  resolution: Resolution;
}

export type TelemetryExport = QueryResult & { sensor: string; from: number; to: number };

/** Server side of `hearth export`, for the gateway's admin socket. */
export function exportAdminHandlers(telemetry: Pick<TelemetryStore, 'knownStream' | 'streamKeys' | 'query'>): {
  'telemetry.query': (request: TelemetryQueryRequest) => Promise<TelemetryExport>;
} {
  return { 'telemetry.query': (request) => queryStore(telemetry, request) };
}

async function queryStore(telemetry: Pick<TelemetryStore, 'knownStream' | 'streamKeys' | 'query'>, request: TelemetryQueryRequest): Promise<TelemetryExport> {
  const { sensor, from, to, resolution } = request;
  if (typeof sensor !== 'string' || !Number.isFinite(from) || !Number.isFinite(to) || !RESOLUTIONS.includes(resolution)) {
    throw new Error('telemetry.query needs a sensor, from, to and a resolution');
  }
  if (!telemetry.knownStream(sensor)) {
    const known = telemetry.streamKeys();
    throw new Error(`no sensor ${sensor}; known sensors: ${known.length > 0 ? known.join(', ') : 'none yet'}`);
  }
  // No point cap: an export is meant to be complete (the HTTP endpoint caps raw answers at 10 000).
  const result = await telemetry.query(sensor, from, to, resolution, Number.POSITIVE_INFINITY);
  return { sensor, from, to, ...result };
}

const RESOLUTIONS: Resolution[] = ['raw', '5m', '1h'];
const DAY_MS = 86_400_000;
const USAGE = 'usage: hearth export SENSOR [--from TIME] [--to TIME] [--resolution raw|5m|1h] [--csv|--json]\n  TIME: ms since the epoch or an ISO 8601 date/time; default the last 24 hours';

export interface ExportCommandContext {
  config: HearthConfig;
  out(text: string): void;
  err(line: string): void;
  now(): number;
}

/** Runs `hearth export ...` (argv after `export`); returns the exit code. */
export async function runExportCommand(argv: string[], context?: Partial<ExportCommandContext>): Promise<number> {
  const out = context?.out ?? ((text: string) => process.stdout.write(text));
  const err = context?.err ?? ((line: string) => process.stderr.write(`${line}\n`));
  const parsed = parseExport(argv, (context?.now ?? Date.now)());
  if (typeof parsed === 'string') {
    err(`hearth export: ${parsed}\n${USAGE}`);
    return 2;
  }
  const config = context?.config ?? loadConfig();
  let exported: TelemetryExport;
  try {
    exported = await query(config, { op: 'telemetry.query', sensor: parsed.sensor, from: parsed.from, to: parsed.to, resolution: parsed.resolution });
  } catch (e) {
    err(`hearth export: ${(e as Error).message}`);
    return 1;
  }
  out(parsed.format === 'json' ? `${JSON.stringify(exported)}\n` : toCsv(exported));
  return 0;
}

interface ExportArgs {
  sensor: string;
  from: number;
  to: number;
  resolution: Resolution;
  format: 'csv' | 'json';
}

function parseExport(argv: string[], now: number): ExportArgs | string {
  let sensor: string | undefined;
  let from: number | undefined;
  let to: number | undefined;
  let resolution: Resolution = 'raw';
  let format: 'csv' | 'json' = 'csv';
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [flag, inline] = arg.startsWith('--') && arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const value = () => inline ?? argv[++i];
    if (flag === '--csv') format = 'csv';
    else if (flag === '--json') format = 'json';
    else if (flag === '--from' || flag === '--to') {
      const raw = value();
      const ms = raw === undefined ? NaN : parseTime(raw);
      if (!Number.isFinite(ms)) return `${flag} needs a time (ms since the epoch or ISO 8601), got ${JSON.stringify(raw)}`;
      if (flag === '--from') from = ms;
      else to = ms;
    } else if (flag === '--resolution') {
      const raw = value();
      if (!RESOLUTIONS.includes(raw as Resolution)) return `--resolution is one of ${RESOLUTIONS.join(', ')}`;
      resolution = raw as Resolution;
    } else if (!arg.startsWith('-') && sensor === undefined) sensor = arg;
    else return `unexpected argument ${JSON.stringify(arg)}`;
  }
  if (sensor === undefined) return 'which sensor?';
  const end = to ?? now;
  const start = from ?? end - DAY_MS;
  if (start > end) return '--from is after --to';
  return { sensor, from: start, to: end, resolution, format };
}

function parseTime(text: string): number {
  return /^\d+$/.test(text) ? Number(text) : Date.parse(text);
}

/** Through the running gateway when it holds the database; else the store opened here, read only. */
async function query(config: HearthConfig, request: TelemetryQueryRequest): Promise<TelemetryExport> {
  const dbPath = join(config.dataDir, 'db');
  if (!existsSync(dbPath)) throw new Error(`no database at ${dbPath}: no readings yet`);
  let db: Database;
  try {
    db = await Database.open(dbPath, config.storage);
  } catch (e) {
    if (!(e as Error).message.includes('in use by another process')) throw e;
    return (await callAdminSocket(adminSocketPath(config.dataDir), request, 60_000)) as TelemetryExport;
  }
  try {
    const telemetry = await TelemetryStore.open(db, { ...config.telemetry, journalPath: join(config.dataDir, 'telemetry.journal') });
    try {
      return await queryStore(telemetry, request);
    } finally {
      await telemetry.closeReadOnly();
    }
  } finally {
    await db.close();
  }
}

/** RFC 4180 CSV with an ISO 8601 time column (spreadsheets parse it) and the exact ms beside it. */
function toCsv(exported: TelemetryExport): string {
  const lines: string[] = [];
  if (exported.resolution === 'raw') {
    lines.push('time,ts_ms,value');
    for (const p of exported.points) lines.push(`${new Date(p.ts).toISOString()},${p.ts},${csvField(p.value)}`);
  } else {
    lines.push('time,ts_ms,min,mean,max,count');
    for (const p of exported.points) lines.push(`${new Date(p.ts).toISOString()},${p.ts},${p.min},${p.mean},${p.max},${p.count}`);
  }
  return `${lines.join('\n')}\n`;
}

function csvField(value: string | number | boolean): string {
  const text = String(value);
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}
