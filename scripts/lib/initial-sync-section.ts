/**
 * `make bench --only sync` (issue 13, Figures): the first initial `/sync` (no filter) of a user in
 * one room of ~3,000 events, on Hearth and on Synapse in the same run, with the same client.
 *
 * On each server: Alice creates a private room, Bob joins, Alice sends the messages (Bob's unread
 * notifications: the count is checked, exact on both). Bob logs in one device per measured sync:
 * each is the *first* initial sync of that device, and Synapse's sync response cache (keyed by
 * device, kept 2 minutes) cannot answer it from a previous one. Then:
 *  - cold: both servers are restarted, and the first sync after the restart is timed;
 *  - warm: more devices' first syncs, alternating between the servers; the median.
 */
import { JsonHttpClient } from './http-client.js';
import { register } from './cs-workload.js';
import { restartHearth, startHearth, type HearthInstance, type HearthLaunch } from './processes.js';
import type { ResultRow } from './report.js';
import { formatNumber, percentile, runConcurrently } from './stats.js';
import { startSynapse, type SynapsePeer } from '../../test/integration/helpers/synapse.js';

const V3 = '/_matrix/client/v3';
/** Sends in flight while the room is filled (the filling is not measured). */
const FILL_CONCURRENCY = 8;

export interface InitialSyncSizes {
  events: number;
  warmRounds: number;
}

/** One server as this section drives it: Bob's password login and a restart. */
interface SyncServer {
  name: string;
  client: JsonHttpClient;
  alice: string;
  bob: { userId: string; password: string; token: string };
  restart(): Promise<void>;
  stop(): Promise<void>;
}

async function hearthServer(launch: HearthLaunch): Promise<SyncServer & { hearth: HearthInstance }> {
  const hearth = await startHearth(launch);
  const client = new JsonHttpClient(hearth.clientUrl);
  const suffix = Date.now().toString(36);
  const alice = await register(client, `alice${suffix}`);
  const bobName = `bob${suffix}`;
  const token = await register(client, bobName);
  const userId = (await client.ok('GET', `${V3}/account/whoami`, undefined, token)).user_id as string;
  return {
    name: 'Hearth',
    hearth,
    client,
    alice,
    // cs-workload's register sets this password.
    bob: { userId, password: `pw-${bobName}-bench`, token },
    async restart() {
      await hearth.server.kill('SIGTERM');
      await restartHearth(launch, hearth);
    },
    async stop() {
      client.close();
      await hearth.server.stop();
    },
  };
}

async function synapseServer(): Promise<SyncServer & { peer: SynapsePeer }> {
  const peer = await startSynapse();
  const client = new JsonHttpClient(peer.clientUrl);
  const alice = await peer.registerUser('alice');
  const bob = await peer.registerUser('bob');
  return {
    name: 'Synapse',
    peer,
    client,
    alice: alice.accessToken,
    bob: { userId: bob.userId, password: bob.password, token: bob.accessToken },
    restart: () => peer.restart(),
    async stop() {
      client.close();
      await peer.stop();
    },
  };
}

/** Alice's room with Bob in it and `events` messages from Alice. */
async function fillRoom(server: SyncServer, events: number): Promise<string> {
  const { client } = server;
  const { room_id: roomId } = await client.ok('POST', `${V3}/createRoom`, { preset: 'private_chat', invite: [server.bob.userId] }, server.alice);
  await client.ok('POST', `${V3}/join/${encodeURIComponent(roomId)}`, {}, server.bob.token);
  const run = Date.now().toString(36);
  await runConcurrently(events, FILL_CONCURRENCY, async (i) => {
    const path = `${V3}/rooms/${encodeURIComponent(roomId)}/send/m.room.message/fill-${run}-${i}`;
    await client.ok('PUT', path, { msgtype: 'm.text', body: `message ${i} of the initial sync benchmark` }, server.alice);
  });
  return roomId;
}

/** A new device of Bob's (password login): its first sync is an initial sync nobody has cached. */
async function newDevice(server: SyncServer): Promise<string> {
  const res = await server.client.ok('POST', `${V3}/login`, { type: 'm.login.password', identifier: { type: 'm.id.user', user: server.bob.userId }, password: server.bob.password });
  return res.access_token as string;
}

/** The first initial /sync (no filter) of a device: milliseconds, and Bob's counts in the room. */
async function initialSync(server: SyncServer, token: string, roomId: string): Promise<{ ms: number; notifications: number; timeline: number }> {
  const start = performance.now();
  const body = await server.client.ok('GET', `${V3}/sync`, undefined, token);
  const ms = performance.now() - start;
  const room = body.rooms?.join?.[roomId];
  if (!room) throw new Error(`${server.name}: the initial sync has no room ${roomId}`);
  return { ms, notifications: room.unread_notifications?.notification_count ?? -1, timeline: room.timeline?.events?.length ?? 0 };
}

export async function initialSyncSection(launch: HearthLaunch, sizes: InitialSyncSizes, log: (line: string) => void): Promise<ResultRow[]> {
  const servers: SyncServer[] = [];
  try {
    const started = await Promise.allSettled([hearthServer(launch), synapseServer()]);
    for (const s of started) if (s.status === 'fulfilled') servers.push(s.value);
    const failed = started.find((s) => s.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
    const [hearth, synapse] = servers as [SyncServer, SyncServer];
    log(`bench: sync: filling a room of ${sizes.events} messages on each server`);
    const rooms = await Promise.all([fillRoom(hearth, sizes.events), fillRoom(synapse, sizes.events)]);
    // One device per measured sync, logged in before the restart.
    const devices = await Promise.all(servers.map(async (s) => Promise.all(Array.from({ length: sizes.warmRounds + 1 }, () => newDevice(s)))));

    log('bench: sync: restarting both servers');
    await Promise.all(servers.map((s) => s.restart()));
    const cold: { ms: number }[] = [];
    for (const [i, s] of servers.entries()) cold.push(await initialSync(s, devices[i]![0]!, rooms[i]!));
    const warm: number[][] = [[], []];
    const checks: string[] = [];
    for (let round = 1; round <= sizes.warmRounds; round++) {
      for (const [i, s] of servers.entries()) {
        const r = await initialSync(s, devices[i]![round]!, rooms[i]!);
        warm[i]!.push(r.ms);
        if (round === 1) checks.push(`${s.name}: ${formatNumber(r.notifications)} unread, ${r.timeline} timeline events`);
      }
    }
    const [hearthCold, synapseCold] = [cold[0]!, cold[1]!];
    const base = { section: 'Client-Server', unit: 'ms', digits: 1, baselineName: 'Synapse' };
    const label = `first initial /sync, no filter, one room of ${formatNumber(sizes.events)} messages`;
    const spread = (ms: number[]) => `median of ${ms.length}, ${formatNumber(Math.min(...ms), 1)}-${formatNumber(Math.max(...ms), 1)} ms`;
    return [
      { ...base, metric: `${label}, cold (first after a restart)`, hearth: hearthCold.ms, baseline: synapseCold.ms, target: 'faster than Synapse' },
      { ...base, metric: `${label}, warm (Hearth ${spread(warm[0]!)}; Synapse ${spread(warm[1]!)})`, hearth: percentile(warm[0]!, 50), baseline: percentile(warm[1]!, 50), target: `faster than Synapse (${checks.join('; ')})` },
    ];
  } finally {
    await Promise.all(servers.map((s) => s.stop().catch((err: Error) => log(`bench: stopping ${s.name}: ${err.message}`))));
  }
}
