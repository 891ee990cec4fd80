/**
 * `make bench` = `node --import tsx scripts/bench.ts [--only cs|sync|mqtt|puback|disk|rss|federation|offline|thumbs|backup] [--quick]
 *                [--duration SECONDS] [--devices N] [--write]`
 *
 * Measures a fresh Hearth per section, side by side with a baseline in the same run and with the same
 * client code:
 *   cs    Client-Server: sequential sends, 16 in flight, state PUTs (vs a bare node:http server that
 *         only parses the body; sequential sends also vs the signed-event floor, the bare server
 *         plus the hashes, signature and write every authored event needs), /sync wake-up latency,
 *         initial sync, full back-pagination.
 *   sync  Issue 13: the first initial /sync (no filter) of a user in one room of 3,000 messages, cold
 *         (first after a restart) and warm, Hearth against Synapse in the same run
 *         (scripts/lib/initial-sync-section.ts). Needs `scripts/synapse-peer build`.
 *   mqtt  QoS 1 readings acknowledged with 8 publishers (vs a bare aedes: no persistence, no mapping).
 *   puback  Issue 14: PUBACK latency p50/p99 of a device with one QoS 1 message in flight, alone and
 *         among 200 devices at 1 Hz, with bytes per reading and group commits per second; the
 *         adaptive group commit vs the interval commit (scripts/lib/puback-section.ts).
 *   disk  200 simulated devices at 1 Hz: write_bytes per reading at steady state, and RSS.
 *   rss   RSS idle after 10k room events.
 *   federation  Hearth <-> Synapse against Synapse <-> Synapse (scripts/lib/federation-workload.ts): join
 *         via invite both ways, message latency to the other server's waiting /sync, and a Hearth
 *         user joining a 2,000-member Synapse room (time, peak RSS; the room is prepared once on a
 *         persistent Synapse, scripts/lib/big-room.ts). Needs `scripts/synapse-peer build`.
 *   offline  Issue 12: catch-up after a restart, a backlog of 10,000 events both ways (--backlog N),
 *         bytes on the wire per message and per catch-up, Hearth <-> Synapse against Synapse <->
 *         Synapse (scripts/lib/offline-section.ts). Needs `scripts/synapse-peer build`.
 *   thumbs  Issue 13: thumbnails of a 4000x3000 JPEG (made, from disk, five sizes at once), peak RSS
 *         while they are made, a decompression bomb refused; against downloading the photo
 *         (scripts/lib/thumbnail-section.ts).
 *   backup  Issue 14: `hearth backup` of a running gateway and `hearth restore` (10,000 messages and
 *         20 MB of media) against tar | gzip -1 of the same directory (scripts/lib/backup-section.ts).
 * Prints a Markdown table; with --write also puts it, with the command and date, in docs/performance.md.
 */
import { existsSync } from 'node:fs';
import { cpus } from 'node:os';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import * as cs from './lib/cs-workload.js';
import { runFleetDiskLoad, FLEET_PREFIX } from './lib/disk-workload.js';
import { JsonHttpClient } from './lib/http-client.js';
import { PublisherFleet } from './lib/mqtt-workload.js';
import { addHearthDevices, JEMALLOC, SEA_EXECUTABLE, startBareAedes, startBareHttp, startHearth, type HearthInstance, type HearthLaunch } from './lib/processes.js';
import { peakRssBytes, resetPeakRss, rssBytes } from './lib/proc.js';
import * as fed from './lib/federation-workload.js';
import { offline } from './lib/offline-section.js';
import { puback } from './lib/puback-section.js';
import { initialSyncSection } from './lib/initial-sync-section.js';
import { thumbnails } from './lib/thumbnail-section.js';
import { backupSection } from './lib/backup-section.js';
import { startBigRoom } from './lib/big-room.js';
import { startSynapse, synapseBuilt, SYNAPSE_CACHE, type SynapsePeer } from '../test/integration/helpers/synapse.js';
import { buildBundle } from './build.js';
import { markdownTable, quotedFromIssue, writeIntoPerformanceDoc, type ResultRow } from './lib/report.js';
import { formatNumber, percentile, runConcurrently } from './lib/stats.js';

const SECTIONS = ['cs', 'sync', 'mqtt', 'puback', 'disk', 'rss', 'federation', 'offline', 'thumbs', 'backup'] as const;
type Section = (typeof SECTIONS)[number];

const { values: args } = parseArgs({
  options: {
    only: { type: 'string' },
    quick: { type: 'boolean', default: false },
    duration: { type: 'string' },
    devices: { type: 'string', default: '200' },
    write: { type: 'boolean', default: false },
    server: { type: 'string', default: 'bundle' },
    profile: { type: 'string' },
    backlog: { type: 'string' },
  },
});
const only = args.only?.split(',') as Section[] | undefined;
if (only?.some((s) => !SECTIONS.includes(s))) throw new Error(`--only takes ${SECTIONS.join(', ')}`);
const quick = args.quick;
if (args.server !== 'bundle' && args.server !== 'tsx' && args.server !== 'sea') throw new Error('--server takes bundle, tsx or sea');
if (args.server === 'sea' && !existsSync(SEA_EXECUTABLE)) throw new Error(`--server sea needs ${SEA_EXECUTABLE}: run make build-gateway`);
if (args.profile && args.server === 'sea') throw new Error('--profile works with --server bundle or tsx');
// The federation section needs the Synapse peer: say so before minutes of other sections, not after.
if ((['federation', 'offline', 'sync'] as const).some((s) => (only ?? SECTIONS).includes(s)) && !synapseBuilt()) {
  throw new Error(`the sync, federation and offline sections need the Synapse peer (no ${SYNAPSE_CACHE}.built): run 'bash scripts/synapse-peer build' (docs/federation-testing.md), or --only cs,mqtt,disk,rss`);
}
// The bundle is what `make run` starts: build it from the current sources first.
if (args.server === 'bundle') await buildBundle();
const launch: HearthLaunch = {
  build: args.server,
  // A CPU profile per Hearth process, written when it stops (open with Chrome DevTools).
  nodeArgs: args.profile ? ['--cpu-prof', `--cpu-prof-dir=${resolve(args.profile)}`] : [],
};
const sizes = {
  warmupMs: quick ? 2000 : 5000,
  rounds: quick ? 3 : 5,
  sequentialSends: quick ? 500 : 2000,
  concurrentSends: quick ? 1000 : 3000,
  statePuts: quick ? 200 : 500,
  wakeRounds: quick ? 50 : 200,
  mqttPerPublisher: quick ? 1000 : 2500,
  // One whole period of the gateway's periodic writes: the sensor throttle's 5-minute state events
  // and the telemetry checkpoint. A shorter window (the issue asks for at least 2 minutes) could
  // fall between them and show only the journal.
  diskMeasureSeconds: Number(args.duration ?? (quick ? 30 : 300)),
  // Steady state starts once every device room exists and every sensor has sent its first state
  // event (and the first memtable flush of the rooms' creation has passed): warm up past that.
  diskWarmupSeconds: quick ? 10 : 75,
  devices: Number(args.devices),
  rssEvents: 10_000,
  joinRepetitions: quick ? 3 : 5,
  federationMessages: quick ? 30 : 100,
  bigRoomMembers: 2000,
  catchUpRepetitions: quick ? 1 : 3,
  catchUpMessages: 30,
  bytesMessages: quick ? 10 : 30,
  // Issue 12 asks for 10,000; --quick (or --backlog N) measures fewer, and the table says how many.
  backlogEvents: Number(args.backlog ?? (quick ? 1000 : 10_000)),
  // Synapse -> Synapse with a 10,000-event backlog costs ~8 more minutes of Synapse sending.
  backlogBaseline: !quick,
  // Issue 13: "one room of ~3,000 events", at every size.
  initialSyncEvents: 3000,
  initialSyncWarmRounds: quick ? 5 : 15,
};
const MB = 1024 * 1024;

async function withHearth<T>(use: (hearth: HearthInstance) => Promise<T>): Promise<T> {
  const hearth = await startHearth(launch);
  try {
    return await use(hearth);
  } finally {
    await hearth.server.stop();
  }
}

/** Median of per-round rates for each session, measured in alternating rounds (same order as given). */
async function alternating(rounds: number, measure: (session: cs.RoomSession) => Promise<number>, sessions: cs.RoomSession[]): Promise<number[]> {
  const rates: number[][] = sessions.map(() => []);
  for (let r = 0; r < rounds; r++) {
    for (const [i, session] of sessions.entries()) rates[i]!.push(await measure(session));
  }
  return rates.map((perRound) => percentile(perRound, 50));
}

async function clientServer(): Promise<ResultRow[]> {
  const rows: ResultRow[] = [];
  const bare = await startBareHttp();
  const floor = await startBareHttp({ signedFloor: true });
  try {
    return await withHearth(async (hearth) => {
      const bareClient = new JsonHttpClient(bare.url);
      const bareSession = { client: bareClient, token: 'bare', roomId: '!bare:localhost' };
      const floorClient = new JsonHttpClient(floor.url);
      const floorSession = { client: floorClient, token: 'floor', roomId: '!floor:localhost' };
      const client = new JsonHttpClient(hearth.clientUrl);
      const room = await cs.setUpRoom(client);
      // Every server (and this client) is warmed up for the same wall time before anything is
      // timed: a few hundred requests leave V8 mid-tiering, and the first server measured would lose.
      for (const session of [bareSession, floorSession, room.alice]) {
        await cs.warmUp(session, sizes.warmupMs);
      }
      // Rounds alternate between the servers, so load from other processes on this shared machine
      // falls on all alike; each figure is the median round.
      const [seqBare, seqFloor, seqHearth] = await alternating(sizes.rounds, (s) => cs.sequentialSends(s, sizes.sequentialSends), [bareSession, floorSession, room.alice]);
      const [concBare, concHearth] = await alternating(sizes.rounds, (s) => cs.concurrentSends(s, sizes.concurrentSends, 16), [bareSession, room.alice]);
      const [stateBare, stateHearth] = await alternating(sizes.rounds, (s) => cs.statePuts(s, sizes.statePuts), [bareSession, room.alice]);
      bareClient.close();
      floorClient.close();
      const base = { section: 'Client-Server', baselineName: 'bare node:http' };
      rows.push({ ...base, metric: 'sequential sends', unit: '/s', hearth: seqHearth!, baseline: seqBare!, target: `>= 50% of bare (${quotedFromIssue(2, 'Synapse 1.160 ~3%: 51/s')})` });
      // Where the target sits: the floor is the fastest any server signing before it answers can be.
      rows.push({ ...base, metric: 'sequential sends: signed-event floor, not Hearth (bare + hashes, ed25519, one write(2))', unit: '/s', hearth: seqFloor!, baseline: seqBare! });
      rows.push({ section: 'Client-Server', metric: 'sequential sends vs the signed-event floor', unit: '/s', hearth: seqHearth!, baseline: seqFloor!, baselineName: 'signed-event floor' });
      rows.push({ ...base, metric: 'sends, 16 in flight', unit: '/s', hearth: concHearth!, baseline: concBare! });
      rows.push({ ...base, metric: 'state PUTs (sequential)', unit: '/s', hearth: stateHearth!, baseline: stateBare! });
      const wake = await cs.syncWakeup(room, sizes.wakeRounds);
      rows.push({ section: 'Client-Server', metric: '/sync wake-up p50 (from send ack)', unit: 'ms', hearth: wake.p50, digits: 2, target: `<= 5 ms (${quotedFromIssue(2, 'Synapse 1.160: 34 ms')})` });
      rows.push({ section: 'Client-Server', metric: '/sync wake-up p95 (from send ack)', unit: 'ms', hearth: wake.p95, digits: 2 });
      rows.push({ section: 'Client-Server', metric: 'initial /sync (Bob, one busy room)', unit: 'ms', hearth: await cs.initialSyncMs(client, room.bobToken), digits: 1 });
      const pages = await cs.backPaginate(room.alice, 100);
      rows.push({ section: 'Client-Server', metric: `full back-pagination (${pages.events} events, 100/page)`, unit: 'ms', hearth: pages.ms, digits: 0 });
      rows.push({ section: 'Client-Server', metric: 'back-pagination rate', unit: 'events/s', hearth: (pages.events * 1000) / pages.ms });
      client.close();
      return rows;
    });
  } finally {
    await bare.server.stop();
    await floor.server.stop();
  }
}

async function mqttIngest(): Promise<ResultRow[]> {
  const publisherIds = Array.from({ length: 8 }, (_, i) => `bench-pub-${i}`);
  const bare = await startBareAedes();
  try {
    return await withHearth(async (hearth) => {
      const creds = await addHearthDevices(hearth, publisherIds);
      const hearthFleet = await PublisherFleet.connect(
        hearth.mqttUrl,
        publisherIds.map((id) => ({ id, username: creds.get(id)!.username, password: creds.get(id)!.password })),
      );
      const bareFleet = await PublisherFleet.connect(bare.url, publisherIds.map((id) => ({ id })));
      // Same wall time of warm-up for both (JIT, the first device rooms being created), then
      // alternating rounds; each figure is the median round.
      for (const fleet of [bareFleet, hearthFleet]) {
        const deadline = performance.now() + sizes.warmupMs;
        while (performance.now() < deadline) await fleet.round(200);
      }
      const bareRates: number[] = [];
      const hearthRates: number[] = [];
      for (let r = 0; r < sizes.rounds; r++) {
        bareRates.push(await bareFleet.round(sizes.mqttPerPublisher));
        hearthRates.push(await hearthFleet.round(sizes.mqttPerPublisher));
      }
      await Promise.all([bareFleet.close(), hearthFleet.close()]);
      return [
        {
          section: 'MQTT',
          metric: 'QoS 1 readings acknowledged, 8 publishers',
          unit: '/s',
          hearth: percentile(hearthRates, 50),
          baseline: percentile(bareRates, 50),
          baselineName: 'bare aedes',
          target: '>= 50% of bare aedes',
        },
      ];
    });
  } finally {
    await bare.server.stop();
  }
}

async function diskWear(): Promise<ResultRow[]> {
  return withHearth(async (hearth) => {
    const names = Array.from({ length: sizes.devices }, (_, i) => `${FLEET_PREFIX}${i}`);
    const creds = await addHearthDevices(hearth, names);
    const result = await runFleetDiskLoad({
      brokerUrl: hearth.mqttUrl,
      serverPid: hearth.server.pid,
      devices: sizes.devices,
      rateHz: 1,
      warmupSeconds: sizes.diskWarmupSeconds,
      measureSeconds: sizes.diskMeasureSeconds,
      credentials: (id) => creds.get(id),
    });
    const label = `${sizes.devices} devices at 1 Hz, ${sizes.diskMeasureSeconds} s`;
    return [
      { section: 'Disk', metric: `bytes written per reading (${label}, ${result.readings} readings)`, unit: 'B', hearth: result.bytesPerReading, digits: 1, target: '<= 64 B/reading' },
      { section: 'Disk', metric: `RSS under load (${label})`, unit: 'MB', hearth: result.rssBytes / MB, digits: 1, target: '<= 96 MB' },
      { section: 'Disk', metric: 'peak RSS under load', unit: 'MB', hearth: result.peakRssBytes / MB, digits: 1 },
    ];
  });
}

async function idleMemory(): Promise<ResultRow[]> {
  return withHearth(async (hearth) => {
    const client = new JsonHttpClient(hearth.clientUrl);
    const fresh = rssBytes(hearth.server.pid);
    const room = await cs.setUpRoom(client);
    await runConcurrently(sizes.rssEvents, 16, async (i) => {
      await client.ok('PUT', `/_matrix/client/v3/rooms/${encodeURIComponent(room.alice.roomId)}/send/m.room.message/rss-${i}`, { msgtype: 'm.text', body: `event ${i}` }, room.alice.token);
    });
    client.close();
    // Idle: no requests for a while, so timers and caches settle.
    await new Promise((done) => setTimeout(done, 10_000));
    return [
      { section: 'Memory', metric: 'RSS fresh, idle', unit: 'MB', hearth: fresh / MB, digits: 1 },
      { section: 'Memory', metric: `RSS idle after ${sizes.rssEvents / 1000}k events`, unit: 'MB', hearth: rssBytes(hearth.server.pid) / MB, digits: 1, target: `<= 80 MB (${quotedFromIssue(2, 'Synapse 1.160 idle: 143 MB')})` },
    ];
  });
}

/** Starts servers side by side; if one fails, stops the others before throwing. */
async function startAll<T extends { stop(): Promise<void> }>(starts: Array<() => Promise<T>>): Promise<T[]> {
  const settled = await Promise.allSettled(starts.map((start) => start()));
  const failed = settled.find((s) => s.status === 'rejected');
  if (failed) {
    await Promise.all(settled.map((s) => (s.status === 'fulfilled' ? s.value.stop() : undefined)));
    throw (failed as PromiseRejectedResult).reason;
  }
  return settled.map((s) => (s as PromiseFulfilledResult<T>).value);
}

const stoppable = (hearth: HearthInstance) => ({ hearth, stop: () => hearth.server.stop() });

function spreadLabel(samples: number[]): string {
  return `median of ${samples.length}, ${formatNumber(Math.min(...samples))}-${formatNumber(Math.max(...samples))} ms`;
}

async function federation(): Promise<ResultRow[]> {
  const rows: ResultRow[] = [];
  const log = (line: string) => process.stderr.write(`${line}\n`);
  // Prepared once per machine (minutes), reused afterwards; stopped (data kept) at the end.
  const big = await startBigRoom(sizes.bigRoomMembers, log);
  const servers: Array<{ stop(): Promise<void> }> = [big.synapse];
  const parties: fed.Party[] = [];
  try {
    const [h1, h2] = (await startAll([() => startHearth(launch, { federated: true }).then(stoppable), () => startHearth(launch, { federated: true }).then(stoppable)])).map((h) => h.hearth);
    servers.push(stoppable(h1!), stoppable(h2!));
    const [s1, s2] = await startAll<SynapsePeer>([() => startSynapse(), () => startSynapse()]);
    servers.push(s1!, s2!);
    const hearthParty = async (h: HearthInstance, name: string) => {
      const client = new JsonHttpClient(h.clientUrl);
      const token = await cs.register(client, name);
      client.close();
      return fed.party('Hearth', h.clientUrl, token);
    };
    const synapseParty = async (s: SynapsePeer, name: string) => fed.party('Synapse', s.clientUrl, (await s.registerUser(name)).accessToken);
    const [hA, hB, sA, sB] = await Promise.all([hearthParty(h1!, 'hanna'), hearthParty(h2!, 'henry'), synapseParty(s1!, 'sara'), synapseParty(s2!, 'sam')]);
    parties.push(hA!, hB!, sA!, sB!);

    // 1. Join via invite, pairs alternating in each repetition (load falls on all alike).
    const pairs = [
      { label: 'Hearth invites a Synapse user', host: hA!, invitee: sA! },
      { label: 'Synapse invites a Hearth user', host: sA!, invitee: hA! },
      { label: 'Synapse invites a Synapse user', host: sA!, invitee: sB! },
      { label: 'Hearth invites a Hearth user', host: hA!, invitee: hB! },
    ];
    const joinMs = pairs.map(() => [] as number[]);
    const lastRoom: string[] = [];
    log(`bench: federation: join via invite, ${sizes.joinRepetitions} repetitions`);
    for (let r = 0; r < sizes.joinRepetitions; r++) {
      for (const [i, pair] of pairs.entries()) {
        const roomId = await fed.createRoom(pair.host);
        joinMs[i]!.push(await fed.joinViaInvite(pair.host, pair.invitee, roomId));
        lastRoom[i] = roomId;
      }
    }
    const baselineJoin = percentile(joinMs[2]!, 50);
    const joinBase = { section: 'Federation', unit: 'ms', digits: 0 };
    rows.push({ ...joinBase, metric: `join via invite, ${pairs[0]!.label} (${spreadLabel(joinMs[0]!)})`, hearth: percentile(joinMs[0]!, 50), baseline: baselineJoin, baselineName: 'Synapse <-> Synapse', target: `no slower than Synapse <-> Synapse (${quotedFromIssue(11, '~1.3 s')})` });
    rows.push({ ...joinBase, metric: `join via invite, ${pairs[1]!.label} (${spreadLabel(joinMs[1]!)})`, hearth: percentile(joinMs[1]!, 50), baseline: baselineJoin, baselineName: 'Synapse <-> Synapse', target: 'no slower than Synapse <-> Synapse' });
    rows.push({ ...joinBase, metric: `join via invite, Synapse <-> Synapse baseline (${spreadLabel(joinMs[2]!)})`, hearth: baselineJoin });
    rows.push({ ...joinBase, metric: `join via invite, ${pairs[3]!.label} (${spreadLabel(joinMs[3]!)})`, hearth: percentile(joinMs[3]!, 50), baseline: baselineJoin, baselineName: 'Synapse <-> Synapse' });

    // 2. Message latency to the other server's waiting /sync, directions interleaved message by message.
    const directions = [
      { label: 'Hearth -> Synapse', sender: hA!, receiver: sA!, roomId: lastRoom[0]! },
      { label: 'Synapse -> Hearth', sender: sA!, receiver: hA!, roomId: lastRoom[1]! },
      { label: 'Synapse -> Synapse', sender: sA!, receiver: sB!, roomId: lastRoom[2]! },
      { label: 'Hearth -> Hearth', sender: hA!, receiver: hB!, roomId: lastRoom[3]! },
    ];
    log(`bench: federation: message latency, ${sizes.federationMessages} per direction`);
    for (let i = 0; i < 5; i++) for (const d of directions) await fed.messageLatency(d.sender, d.receiver, d.roomId);
    const latencies = directions.map(() => [] as number[]);
    for (let i = 0; i < sizes.federationMessages; i++) {
      for (const [j, d] of directions.entries()) latencies[j]!.push(await fed.messageLatency(d.sender, d.receiver, d.roomId));
    }
    const baseP50 = percentile(latencies[2]!, 50);
    const baseP95 = percentile(latencies[2]!, 95);
    for (const [j, d] of directions.entries()) {
      if (j === 2) continue;
      const base = j === 3 ? {} : { baseline: baseP50, baselineName: 'Synapse -> Synapse' };
      rows.push({ section: 'Federation', metric: `message to the other server's waiting /sync, ${d.label}, p50 (${sizes.federationMessages} messages)`, unit: 'ms', digits: 1, hearth: percentile(latencies[j]!, 50), ...base });
      rows.push({ section: 'Federation', metric: `message to the other server's waiting /sync, ${d.label}, p95`, unit: 'ms', digits: 1, hearth: percentile(latencies[j]!, 95), ...(j === 3 ? {} : { baseline: baseP95, baselineName: 'Synapse -> Synapse' }) });
    }
    rows.push({ section: 'Federation', metric: `message to the other server's waiting /sync, Synapse -> Synapse baseline, p50 / p95`, unit: 'ms', digits: 1, hearth: baseP50, target: `p95 ${formatNumber(baseP95, 1)} ms` });

    // 3. Joining the 2,000-member Synapse room: a fresh Hearth (its RSS is the join's), then a Synapse.
    for (const p of parties) p.client.close();
    parties.length = 0;
    await Promise.all([h1!.server.stop(), h2!.server.stop(), s1!.stop()]);
    const h3 = await startHearth(launch, { federated: true });
    servers.push(stoppable(h3));
    const joiner = await hearthParty(h3, 'hugo');
    parties.push(joiner);
    // Settle after start-up, then measure from the current RSS: the peak is the join's.
    await new Promise((done) => setTimeout(done, 3000));
    const pid = h3.server.pid;
    const rssBefore = rssBytes(pid);
    const peakReset = resetPeakRss(pid);
    let sampledPeak = rssBefore;
    const sampler = setInterval(() => {
      try {
        sampledPeak = Math.max(sampledPeak, rssBytes(pid));
      } catch {
        // exited: the join fails below
      }
    }, 50);
    log(`bench: federation: a Hearth user joins the ${big.joinedMembers}-member room`);
    let hearthJoin: { ms: number; roomId: string };
    try {
      hearthJoin = await fed.joinByAlias(joiner, big.alias);
    } finally {
      clearInterval(sampler);
    }
    const peak = peakReset ? Math.max(peakRssBytes(pid), sampledPeak) : sampledPeak;
    const members = await fed.joinedMemberCount(joiner, hearthJoin.roomId);
    await new Promise((done) => setTimeout(done, 10_000));
    const rssAfter = rssBytes(pid);
    await fed.leave(joiner, hearthJoin.roomId);
    log('bench: federation: a Synapse user joins the same room');
    const synapseJoiner = await synapseParty(s2!, 'sylvia');
    parties.push(synapseJoiner);
    const synapseStart = performance.now();
    const synapseJoin = await fed.joinByAlias(synapseJoiner, big.alias);
    // Synapse joins with partial state (MSC3706: the members come later, in the background) and
    // its /joined_members waits for the full state: that is when it knows what Hearth knows at its join.
    const synapseMembers = await fed.joinedMemberCount(synapseJoiner, synapseJoin.roomId);
    const synapseFullStateMs = performance.now() - synapseStart;
    await fed.leave(synapseJoiner, synapseJoin.roomId);
    const label = `${big.joinedMembers}-member Synapse room`;
    rows.push({ section: 'Federation', metric: `joining a ${label} by alias (POST /join; Hearth saw ${members} joined)`, unit: 'ms', digits: 0, hearth: hearthJoin.ms, baseline: synapseJoin.ms, baselineName: 'Synapse, partial-state join', target: '<= 20 s' });
    rows.push({ section: 'Federation', metric: `the same, until the joiner's server knows the whole membership (Synapse: /joined_members, ${synapseMembers})`, unit: 'ms', digits: 0, hearth: hearthJoin.ms, baseline: synapseFullStateMs, baselineName: 'Synapse, full state' });
    rows.push({ section: 'Federation', metric: `peak RSS joining a ${label} (${peakReset ? 'VmHWM' : 'sampled every 50 ms'})`, unit: 'MB', digits: 1, hearth: peak / MB, target: '<= 150 MB' });
    rows.push({ section: 'Federation', metric: 'RSS before that join / 10 s after it', unit: 'MB', digits: 1, hearth: rssBefore / MB, target: `after: ${formatNumber(rssAfter / MB, 1)} MB` });
    if (big.preparedSeconds > 0) log(`bench: federation: the big room took ${big.preparedSeconds.toFixed(0)} s to prepare (reused by later runs)`);
    return rows;
  } finally {
    for (const p of parties) p.client.close();
    await Promise.all(servers.map((s) => s.stop().catch((err: Error) => log(`bench: stopping a server: ${err.message}`))));
  }
}

// Ctrl-C or a SIGTERM exits through process.on('exit'), where the helpers kill the servers they
// started (Synapse instances are daemons: nothing else would stop them).
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));

const RUNNERS: Record<Section, () => Promise<ResultRow[]>> = {
  cs: clientServer,
  sync: () => initialSyncSection(launch, { events: sizes.initialSyncEvents, warmRounds: sizes.initialSyncWarmRounds }, (line) => process.stderr.write(`${line}\n`)),
  mqtt: mqttIngest,
  puback: () =>
    puback(
      launch,
      { devices: sizes.devices, loneReadings: quick ? 20 : 60, fleetWarmupSeconds: quick ? 20 : 45, fleetMeasureSeconds: quick ? 30 : 120 },
      (line) => process.stderr.write(`${line}\n`),
    ),
  disk: diskWear,
  rss: idleMemory,
  federation,
  offline: () => offline(launch, sizes, (line) => process.stderr.write(`${line}\n`)),
  thumbs: () => thumbnails(launch, quick ? 3 : 7, (line) => process.stderr.write(`${line}\n`)),
  backup: () => backupSection(launch, { messages: quick ? 2000 : 10_000, mediaFiles: quick ? 5 : 20, mediaBytes: MB }, (line) => process.stderr.write(`${line}\n`)),
};

const rows: ResultRow[] = [];
for (const section of only ?? SECTIONS) {
  process.stderr.write(`bench: ${section}...\n`);
  rows.push(...(await RUNNERS[section]()));
}
const table = markdownTable(rows);
if (!JEMALLOC) process.stderr.write('bench: libjemalloc2 is not installed; the gateway ran on glibc malloc (more RSS under load)\n');
console.log(table);
if (args.write) {
  const command = ['node --import tsx scripts/bench.ts', ...process.argv.slice(2)].join(' ');
  const machine = `${cpus().length} cores (${cpus()[0]?.model.trim() ?? 'unknown CPU'}), Node ${process.version}, gateway allocator ${JEMALLOC ? 'jemalloc' : 'glibc malloc'}`;
  const doc = resolve(import.meta.dirname, '../docs/performance.md');
  // The federation figures have their own block (## Federation): a run of one never erases the other.
  // So do the offline figures (## Offline for days).
  const federationRows = rows.filter((row) => row.section === 'Federation');
  const offlineRows = rows.filter((row) => row.section === 'Offline');
  const thumbnailRows = rows.filter((row) => row.section === 'Thumbnails');
  const otherRows = rows.filter((row) => row.section !== 'Federation' && row.section !== 'Offline' && row.section !== 'Thumbnails');
  if (otherRows.length > 0) writeIntoPerformanceDoc(doc, otherRows, command, machine);
  if (federationRows.length > 0) writeIntoPerformanceDoc(doc, federationRows, command, machine, 'bench-federation');
  if (offlineRows.length > 0) writeIntoPerformanceDoc(doc, offlineRows, command, machine, 'bench-offline');
  if (thumbnailRows.length > 0) writeIntoPerformanceDoc(doc, thumbnailRows, command, machine, 'bench-thumbnails');
  process.stderr.write('bench: wrote docs/performance.md\n');
}
