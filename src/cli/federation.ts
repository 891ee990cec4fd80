/**
 * `hearth federation status`: the running gateway's outgoing federation (docs/federation.md
 * "Offline"): per destination server its position in the stream, consecutive failures and whether a
 * retry is waiting, what waits in the durable outbox and in memory, and what was sent; then the
 * catch-up pulls. Asked over the admin socket (the gateway holds the database).
 */
import { loadConfig, type HearthConfig } from '../config/config.js';
import { adminSocketPath, callAdminSocket } from '../admin/socket.js';
import type { ClockStatus } from '../federation/clock/clock-guard.js';
import type { KeyCopyStatus } from '../federation/keys/key-copies.js';
import type { DestinationStatus } from '../federation/send/sender.js';

/** What the gateway answers (`federation.status` on the admin socket). */
export interface FederationStatusResult {
  /** The wall clock as judged (docs/federation.md "Clock"): while wrong, federation is paused. */
  clock: ClockStatus;
  destinations: DestinationStatus[];
  /** Per destination, when its copy of our signing key expires, as far as we saw it fetched (federation/keys/key-copies.ts). */
  keyCopies: KeyCopyStatus[];
  catchUp: { pulls: number; roomsFilled: number; failures: number };
  pullRounds: number;
}

export interface FederationCommandContext {
  config: HearthConfig;
  out(line: string): void;
  err(line: string): void;
  callAdmin(request: { op: string }): Promise<unknown>;
}

const USAGE = 'usage: hearth federation status [--json]';

/** Runs `hearth federation ...` (argv after `federation`); returns the process exit code. */
export async function runFederationCommand(argv: string[], context?: Partial<FederationCommandContext>): Promise<number> {
  const out = context?.out ?? ((line: string) => process.stdout.write(`${line}\n`));
  const err = context?.err ?? ((line: string) => process.stderr.write(`${line}\n`));
  const [sub, ...rest] = argv;
  const json = rest.length === 1 && rest[0] === '--json';
  if (sub !== 'status' || (rest.length > 0 && !json)) {
    err(USAGE);
    return 2;
  }
  const config = context?.config ?? loadConfig();
  const callAdmin = context?.callAdmin ?? ((request) => callAdminSocket(adminSocketPath(config.dataDir), request));
  let status: FederationStatusResult;
  try {
    status = (await callAdmin({ op: 'federation.status' })) as FederationStatusResult;
  } catch (e) {
    err(`hearth federation status: ${(e as Error).message} (is the gateway running?)`);
    return 1;
  }
  if (json) {
    out(JSON.stringify(status, null, 2));
    return 0;
  }
  const { clock } = status;
  out(
    clock.sane
      ? `clock: ok (${new Date(clock.nowMs).toISOString()})`
      : `clock: WRONG, federation paused${clock.wrongSinceMs !== undefined ? ` since ${new Date(clock.wrongSinceMs).toISOString()}` : ''}: ${clock.reason}`,
  );
  if (status.destinations.length === 0) out('no destination servers');
  for (const d of status.destinations) {
    const state = d.failures === 0 ? 'ok' : `${d.failures} failures${d.backingOff ? ', retry pending' : ''}`;
    out(`${d.destination}: ${state}; position ${d.position}; outbox ${d.outbox}, in memory ${d.ephemeral}; sent ${d.transactions} transactions, ${d.pdus} PDUs, ${d.catchUps} catch-ups`);
    const copy = status.keyCopies?.find((k) => k.destination === d.destination);
    if (copy) out(`  its copy of our signing key: ${copy.expiresAt === undefined ? 'no fetch seen from its addresses' : `fetched ${iso(copy.fetchedAt!)}, valid until ${iso(copy.expiresAt)}`}`);
  }
  out(`catch-up pulls: ${status.catchUp.pulls} (${status.catchUp.roomsFilled} rooms filled, ${status.catchUp.failures} failures); pull-mode rounds: ${status.pullRounds}`);
  return 0;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
