/**
 * `hearth status [--json]`: the running gateway's one-screen summary (admin/gateway-status.ts, a view of
 * status/gateway-figures.ts),
 * asked over the admin socket. Exit 0 with the summary; 3 when no gateway runs on the data
 * directory (as an LSB init script's `status`: "program is not running"); 1 when one runs but does
 * not answer.
 */
import { loadConfig, type HearthConfig } from '../config/config.js';
import { adminSocketPath, callAdminSocket } from '../admin/socket.js';
import type { GatewayStatus } from '../admin/gateway-status.js';

export interface StatusCommandContext {
  config: HearthConfig;
  out(line: string): void;
  err(line: string): void;
}

const USAGE = 'usage: hearth status [--json]';
export const NOT_RUNNING = 3;

export async function runStatusCommand(argv: string[], context?: Partial<StatusCommandContext>): Promise<number> {
  const out = context?.out ?? ((line: string) => process.stdout.write(`${line}\n`));
  const err = context?.err ?? ((line: string) => process.stderr.write(`${line}\n`));
  const json = argv.length === 1 && argv[0] === '--json';
  if (argv.length > 0 && !json) {
    err(USAGE);
    return 2;
  }
  const config = context?.config ?? loadConfig();
  const socket = adminSocketPath(config.dataDir);
  let status: GatewayStatus;
  try {
    status = (await callAdminSocket(socket, { op: 'gateway.status' })) as GatewayStatus;
  } catch (e) {
    const message = (e as Error).message;
    if (/ENOENT|ECONNREFUSED/.test(message)) {
      err(`hearth status: the gateway is not running on ${config.dataDir} (nothing answers on ${socket}). Start it with "hearth run" (or systemctl start hearth).`);
      return NOT_RUNNING;
    }
    if (/^unknown operation/.test(message)) {
      err('hearth status: the running gateway is an older version than this command (it does not know gateway.status): restart it (systemctl restart hearth)');
      return 1;
    }
    err(`hearth status: ${message}`);
    return 1;
  }
  if (json) out(JSON.stringify(status, null, 2));
  else for (const line of formatStatus(status)) out(line);
  return 0;
}

export function formatStatus(s: GatewayStatus): string[] {
  const d = s.disk;
  const lines = [
    `Hearth ${s.version}, server name ${s.serverName}, up ${duration(s.uptimeSeconds)} (pid ${s.pid})`,
    `memory      RSS ${bytes(s.rssBytes)}`,
    `disk        ${bytes(d.usedBytes)} in ${d.dataDir}; ${d.freeBytes === null || d.totalBytes === null ? 'free space not known' : `${bytes(d.freeBytes)} free of ${bytes(d.totalBytes)}`}`,
    d.writtenPerHour === null
      ? 'writes      not counted here (no /proc/self/io)'
      : `writes      ${bytes(d.writtenPerHour)}/hour, ${bytes(d.writtenPerDay ?? 0)}/day (measured over ${duration(d.writeHistorySeconds)})`,
    `mqtt        ${s.mqttClients === null ? 'external broker' : `${s.mqttClients} client${s.mqttClients === 1 ? '' : 's'} on port ${s.ports.mqtt}`}`,
    `activity    ${s.eventsPerSecond} events/s, ${s.readingsPerSecond} readings/s (last minute)`,
    `ports       client ${s.ports.client}, federation ${s.ports.federation}${s.ports.mqtt === null ? '' : `, MQTT ${s.ports.mqtt}`}`,
    `clock       ${s.clock.sane ? 'ok' : `WRONG, federation paused: ${s.clock.reason}`}`,
  ];
  if (s.peers.length === 0) lines.push('federation  no peer servers');
  else {
    lines.push(`federation  ${s.peers.length} peer server${s.peers.length === 1 ? '' : 's'}`);
    const width = Math.max(...s.peers.map((p) => p.server.length));
    for (const p of s.peers) {
      const reach = p.reachable ? 'reachable' : `UNREACHABLE (${p.failures} failures${p.retryPending ? ', retry pending' : ''})`;
      lines.push(`  ${p.server.padEnd(width)}  ${reach}; queue ${p.queueDepth}, behind by ${p.streamLag}`);
    }
  }
  return lines;
}

export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let v = n;
  let unit = -1;
  while (v >= 1024 && unit < units.length - 1) {
    v /= 1024;
    unit++;
  }
  return `${v.toFixed(1)} ${units[unit]}`;
}

export function duration(seconds: number): string {
  const d = Math.floor(seconds / 86_400);
  const h = Math.floor((seconds % 86_400) / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  if (d > 0) return `${d} d ${h} h`;
  if (h > 0) return `${h} h ${m} min`;
  return m > 0 ? `${m} min ${seconds % 60} s` : `${seconds} s`;
}
