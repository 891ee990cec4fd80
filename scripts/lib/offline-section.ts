/**
 * `make bench --only offline` (issue 12, "Offline for days", Figures): Hearth <-> Synapse against
 * Synapse <-> Synapse in the same run, every server behind a byte counter (offline-workload.ts).
 *
 * Two pairs, each a room of the Synapse B shared with A: (Hearth A, Synapse B1) and (Synapse A,
 * Synapse B2, the baseline). In order:
 *  1. bytes per federated message: A's user sends, one at a time, each awaited at B (and B1 -> Hearth);
 *  2. catch-up after a restart: A away while B's user sends 30 messages and changes the topic, A back,
 *     until A's client API has all of it; pairs alternate in each repetition;
 *  3. a backlog of N events (default 10,000) in a fresh room: Synapse -> Hearth (Hearth away),
 *     Hearth -> Synapse (Synapse B1 away), and Synapse -> Synapse (A away) as the baseline.
 */
import { peakRssBytes, resetPeakRss } from './proc.js';
import type { HearthLaunch } from './processes.js';
import { quotedFromIssue, type ResultRow } from './report.js';
import { formatNumber, percentile } from './stats.js';
import * as off from './offline-workload.js';
import type { WireCount } from './wire-bytes.js';

export interface OfflineSizes {
  catchUpRepetitions: number;
  catchUpMessages: number;
  bytesMessages: number;
  backlogEvents: number;
  backlogBaseline: boolean;
}

const MB = 1024 * 1024;
/** Client sends in flight while a backlog is created (Synapse serialises a room's events anyway). */
const BACKLOG_CONCURRENCY = 8;
/** A backlog that is not complete this long after the restart counts as not complete. */
const BACKLOG_GIVE_UP_MS = 600_000;

/** `send 1.1 KB + get_missing_events 30 KB`: where the bytes went, for the metric text. */
function endpoints(count: WireCount): string {
  return Object.entries(count.byEndpoint)
    .sort(([, a], [, b]) => b.requestBytes + b.responseBytes - (a.requestBytes + a.responseBytes))
    .map(([name, e]) => `${name} ${formatNumber(e.requestBytes + e.responseBytes)}`)
    .join(', ');
}

function range(samples: number[]): string {
  return `median of ${samples.length}, ${formatNumber(Math.min(...samples))}-${formatNumber(Math.max(...samples))} ms`;
}

export async function offline(launch: HearthLaunch, sizes: OfflineSizes, log: (line: string) => void): Promise<ResultRow[]> {
  const rows: ResultRow[] = [];
  const servers: off.OfflineServer[] = [];
  const members: off.Member[] = [];
  const row = (r: Omit<ResultRow, 'section'>) => rows.push({ section: 'Offline', ...r });
  try {
    const started = await Promise.allSettled([off.offlineHearth(launch), off.offlineSynapse(), off.offlineSynapse(), off.offlineSynapse()]);
    for (const s of started) if (s.status === 'fulfilled') servers.push(s.value);
    const failed = started.find((s) => s.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
    const [hearthA, synapseB1, synapseA, synapseB2] = servers as [off.OfflineServer, off.OfflineServer, off.OfflineServer, off.OfflineServer];
    const [hanna, bea, sara, bob] = await Promise.all([off.member(hearthA, 'hanna'), off.member(synapseB1, 'bea'), off.member(synapseA, 'sara'), off.member(synapseB2, 'bob')]);
    members.push(hanna, bea, sara, bob);
    const hearthRoom = await off.sharedRoom(bea, hanna, 'offline: Hearth A');
    const synapseRoom = await off.sharedRoom(bob, sara, 'offline: Synapse A');

    // 1. Bytes per federated message.
    log(`bench: offline: bytes per message, ${sizes.bytesMessages} per direction`);
    const h2s = await off.bytesPerMessage(hanna, bea, hearthRoom, sizes.bytesMessages, 'Hearth -> Synapse');
    const s2s = await off.bytesPerMessage(sara, bob, synapseRoom, sizes.bytesMessages, 'Synapse -> Synapse');
    const s2h = await off.bytesPerMessage(bea, hanna, hearthRoom, sizes.bytesMessages, 'Synapse -> Hearth');
    const perMessage = (label: string, r: off.MessageBytesResult, target?: string) => {
      row({ metric: `bytes per federated message, ${label}: HTTP, both directions (${r.messages} messages; ${endpoints(r.perMessage)})`, unit: 'B', hearth: r.perMessage.httpBytes, baseline: s2s.perMessage.httpBytes, baselineName: 'Synapse -> Synapse', ...(target ? { target } : {}) });
      row({ metric: `the same on the wire (TLS records; ${formatNumber(r.perMessage.requests, 2)} requests per message)`, unit: 'B', hearth: r.perMessage.wireBytes, baseline: s2s.perMessage.wireBytes, baselineName: 'Synapse -> Synapse' });
    };
    perMessage('Hearth -> Synapse', h2s, 'report against Synapse -> Synapse');
    perMessage('Synapse -> Hearth (Synapse sends, Hearth answers)', s2h);

    // 2. Catch-up after a restart, the two pairs alternating.
    log(`bench: offline: catch-up after a restart, ${sizes.catchUpRepetitions} repetitions`);
    const catchUps = { hearth: [] as off.CatchUpResult[], synapse: [] as off.CatchUpResult[] };
    for (let r = 0; r < sizes.catchUpRepetitions; r++) {
      catchUps.hearth.push(await off.catchUpAfterRestart(hanna, bea, hearthRoom, sizes.catchUpMessages, `Hearth A round ${r}`));
      catchUps.synapse.push(await off.catchUpAfterRestart(sara, bob, synapseRoom, sizes.catchUpMessages, `Synapse A round ${r}`));
    }
    const fromStart = { hearth: catchUps.hearth.map((c) => c.fromStartMs), synapse: catchUps.synapse.map((c) => c.fromStartMs) };
    const fromServing = { hearth: catchUps.hearth.map((c) => c.fromServingMs), synapse: catchUps.synapse.map((c) => c.fromServingMs) };
    const medianRun = (list: off.CatchUpResult[]) => [...list].sort((a, b) => a.bytes.httpBytes - b.bytes.httpBytes)[Math.floor(list.length / 2)]!;
    const hearthBytes = medianRun(catchUps.hearth).bytes;
    const synapseBytes = medianRun(catchUps.synapse).bytes;
    row({ metric: `catch-up after a restart, ${sizes.catchUpMessages} messages and a topic, from the process start (Hearth ${range(fromStart.hearth)}; Synapse ${range(fromStart.synapse)})`, unit: 'ms', hearth: percentile(fromStart.hearth, 50), baseline: percentile(fromStart.synapse, 50), baselineName: 'Synapse <-> Synapse', target: `faster than Synapse <-> Synapse (${quotedFromIssue(12, '~3.3 s')})` });
    row({ metric: `the same, from its client API answering again (Hearth ${range(fromServing.hearth)}; Synapse ${range(fromServing.synapse)})`, unit: 'ms', hearth: percentile(fromServing.hearth, 50), baseline: percentile(fromServing.synapse, 50), baselineName: 'Synapse <-> Synapse' });
    row({ metric: `bytes of that catch-up, HTTP, both directions (median run; Hearth: ${endpoints(hearthBytes)}; Synapse: ${endpoints(synapseBytes)})`, unit: 'B', hearth: hearthBytes.httpBytes, baseline: synapseBytes.httpBytes, baselineName: 'Synapse <-> Synapse' });
    row({ metric: `the same on the wire (TLS; ${hearthBytes.connections} and ${synapseBytes.connections} new connections)`, unit: 'B', hearth: hearthBytes.wireBytes, baseline: synapseBytes.wireBytes, baselineName: 'Synapse <-> Synapse' });

    // 3. Backlogs, each in a fresh room.
    const n = sizes.backlogEvents;
    /** `hearth`: the Hearth of the pair, whose peak RSS is measured (receiving: a new process, so its own peak; sending: from the receiver's return). */
    const backlog = async (receiver: off.Member, sender: off.Member, host: off.Member, guest: off.Member, label: string, hearth?: off.OfflineServer) => {
      const roomId = await off.sharedRoom(host, guest, `offline: backlog ${label}`);
      log(`bench: offline: backlog of ${n} events, ${label}`);
      const result = await off.backlogCatchUp(receiver, sender, roomId, n, {
        label,
        concurrency: BACKLOG_CONCURRENCY,
        giveUpMs: BACKLOG_GIVE_UP_MS,
        log,
        // The sending Hearth's peak while the other catches up, not while its user was sending.
        onRestart: () => {
          const pid = hearth?.pid();
          if (pid !== undefined && hearth !== receiver.server && !resetPeakRss(pid)) throw new Error('cannot reset the peak RSS of the Hearth process');
        },
      });
      const pid = hearth?.pid();
      if (pid !== undefined) result.peakRssBytes = peakRssBytes(pid);
      log(`bench: offline: ${label}: newest after ${formatNumber(result.newestMs)} ms, ${result.completeMs === undefined ? `not complete: ${result.found} of ${n}` : `complete after ${formatNumber(result.completeMs)} ms`}`);
      return result;
    };
    const s2hBacklog = await backlog(hanna, bea, bea, hanna, 'Synapse -> Hearth', hearthA);
    const h2sBacklog = await backlog(bea, hanna, hanna, bea, 'Hearth -> Synapse', hearthA);
    const s2sBacklog = sizes.backlogBaseline ? await backlog(sara, bob, bob, sara, 'Synapse -> Synapse') : undefined;
    const baselineOf = (pick: (r: off.BacklogResult) => number | undefined) => {
      const value = s2sBacklog ? pick(s2sBacklog) : undefined;
      return value === undefined ? {} : { baseline: value, baselineName: 'Synapse -> Synapse' };
    };
    for (const [label, r] of [['Synapse -> Hearth', s2hBacklog], ['Hearth -> Synapse', h2sBacklog]] as const) {
      row({ metric: `backlog of ${formatNumber(n)} events, ${label}: setup, the sender's user sending them (${BACKLOG_CONCURRENCY} in flight, untimed)`, unit: 'ms', hearth: r.setupMs, ...baselineOf((b) => b.setupMs) });
      row({ metric: `backlog, ${label}: the newest message in the receiver's /messages, from its process start`, unit: 'ms', hearth: r.newestMs, ...baselineOf((b) => b.newestMs) });
      if (r.completeMs !== undefined) {
        row({ metric: `backlog, ${label}: complete (one /messages walk back from the newest finds all ${formatNumber(n)}), from the process start (${r.walks} walks)`, unit: 'ms', hearth: r.completeMs, ...baselineOf((b) => b.completeMs), target: '<= 60 s' });
      } else {
        row({ metric: `backlog, ${label}: NOT complete: messages a /messages walk finds at best (${r.walks} walks, given up ${formatNumber(BACKLOG_GIVE_UP_MS / 1000)} s after the start or after 3 walks without progress)`, unit: 'events', hearth: r.found, target: `<= 60 s for all ${formatNumber(n)}` });
      }
      row({ metric: `backlog, ${label}: bytes until then, HTTP, both directions (${endpoints(r.bytes)})`, unit: 'B', hearth: r.bytes.httpBytes, ...baselineOf((b) => b.bytes.httpBytes) });
      if (r.peakRssBytes !== undefined) {
        row({ metric: `backlog, ${label}: peak RSS of the ${label.startsWith('Synapse') ? 'receiving Hearth (VmHWM since its start)' : 'sending Hearth (VmHWM since the receiver came back)'}`, unit: 'MB', digits: 1, hearth: r.peakRssBytes / MB });
      }
    }
    if (s2sBacklog && s2sBacklog.completeMs === undefined) {
      row({ metric: `backlog, Synapse -> Synapse baseline: NOT complete (best walk; ${s2sBacklog.walks} walks)`, unit: 'events', hearth: s2sBacklog.found });
    }
    // Could responses be compressed? Only if the requesting servers offer it.
    for (const s of servers) log(`bench: offline: Accept-Encoding of the requests to ${s.kind} ${s.serverName}: ${[...s.proxy.acceptEncodings].map(([k, v]) => `${k} x${v}`).join(', ')}`);
    return rows;
  } finally {
    for (const m of members) m.client.close();
    await Promise.all(servers.map((s) => s.stop().catch((err: Error) => log(`bench: stopping ${s.kind}: ${err.message}`))));
  }
}
