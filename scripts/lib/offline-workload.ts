/**
 * The offline workload (issue 12, "Offline for days", Figures): a server that was away comes back
 * and catches up, measured through the Client-Server API of the server that was away, with the same
 * client code whatever the servers are. Every server here sits behind a byte-counting proxy
 * (wire-bytes.ts), so each scenario also has the federation bytes it cost, both directions.
 *
 * Offline means the process is gone: Hearth SIGKILLed (as test/federation/synapse-offline.test.ts
 * does), Synapse stopped (`scripts/synapse-peer stop`: SIGTERM). Its peer's sends fail meanwhile, so
 * the peer backs off (Synapse: 10 minutes after the first failure; Hearth: 2 s doubling).
 */
import type { SynapsePeer } from '../../test/integration/helpers/synapse.js';
import { startSynapse } from '../../test/integration/helpers/synapse.js';
import { register } from './cs-workload.js';
import { JsonHttpClient } from './http-client.js';
import { freePort, restartHearth, startHearth, type HearthInstance, type HearthLaunch } from './processes.js';
import { runConcurrently } from './stats.js';
import { countSince, sumCounts, WireBytesProxy, type WireCount } from './wire-bytes.js';

const V3 = '/_matrix/client/v3';

/** A server of either kind behind its byte counter, that can go away and come back. */
export interface OfflineServer {
  kind: 'Hearth' | 'Synapse';
  serverName: string;
  clientUrl: string;
  proxy: WireBytesProxy;
  /** The server's pid, for RSS (Hearth: a direct child; Synapse: its daemon). */
  pid(): number | undefined;
  /**
   * Takes the server away, runs `whileAway`, then starts it again: resolves with the moment the new
   * process was started (`performance.now()`) and the moment its Client-Server API answered.
   */
  awayWhile(whileAway: () => Promise<void>): Promise<{ startedAt: number; servingAt: number }>;
  registerUser(name: string): Promise<{ userId: string; token: string }>;
  stop(): Promise<void>;
}

export async function offlineHearth(launch: HearthLaunch): Promise<OfflineServer> {
  const namePort = await freePort();
  const hearth: HearthInstance = await startHearth(launch, { federated: true, serverNamePort: namePort });
  const proxy = await WireBytesProxy.start(namePort, Number(hearth.env.HEARTH_FEDERATION_PORT));
  const client = new JsonHttpClient(hearth.clientUrl);
  return {
    kind: 'Hearth',
    serverName: `127.0.0.1:${namePort}`,
    clientUrl: hearth.clientUrl,
    proxy,
    pid: () => hearth.server.child.pid,
    async awayWhile(whileAway) {
      await hearth.server.kill('SIGKILL');
      await whileAway();
      const startedAt = performance.now();
      await restartHearth(launch, hearth);
      return { startedAt, servingAt: performance.now() };
    },
    async registerUser(name) {
      const token = await register(client, name);
      return { userId: (await client.ok('GET', `${V3}/account/whoami`, undefined, token)).user_id as string, token };
    },
    async stop() {
      client.close();
      await proxy.stop();
      await hearth.server.stop();
    },
  };
}

export async function offlineSynapse(): Promise<OfflineServer> {
  const listenPort = await freePort();
  const synapse: SynapsePeer = await startSynapse({ federationListenPort: listenPort });
  const proxy = await WireBytesProxy.start(synapse.federationPort, listenPort);
  return {
    kind: 'Synapse',
    serverName: synapse.serverName,
    clientUrl: synapse.clientUrl,
    proxy,
    pid: () => synapse.pid(),
    async awayWhile(whileAway) {
      let startedAt = 0;
      // restart() stops Synapse, runs this, then starts it and waits for /versions (scripts/synapse-peer).
      await synapse.restart(async () => {
        await whileAway();
        startedAt = performance.now();
      });
      return { startedAt, servingAt: performance.now() };
    },
    async registerUser(name) {
      const user = await synapse.registerUser(name);
      return { userId: user.userId, token: user.accessToken };
    },
    async stop() {
      await proxy.stop();
      await synapse.stop();
    },
  };
}

/** A user of one of the servers. */
export interface Member {
  server: OfflineServer;
  client: JsonHttpClient;
  userId: string;
  token: string;
}

export async function member(server: OfflineServer, name: string): Promise<Member> {
  const { userId, token } = await server.registerUser(name);
  return { server, client: new JsonHttpClient(server.clientUrl), userId, token };
}

const room = (roomId: string) => `${V3}/rooms/${encodeURIComponent(roomId)}`;

async function eventually<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number, intervalMs = 100): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch {
      // not yet (e.g. the server is still starting)
    }
    if (performance.now() > deadline) throw new Error(`waited ${timeoutMs / 1000} s for ${what}`);
    await new Promise((done) => setTimeout(done, intervalMs));
  }
}

/** The bodies of the newest `limit` messages (oldest first). */
async function newestBodies(m: Member, roomId: string, limit: number): Promise<string[]> {
  const page = await m.client.ok('GET', `${room(roomId)}/messages?dir=b&limit=${limit}`, undefined, m.token);
  return (page.chunk as any[]).filter((e) => e.type === 'm.room.message').map((e) => e.content.body as string).reverse();
}

/**
 * A room on `host`'s server shared with `guest` (invited, joined), one message each way delivered
 * (untimed): both servers know each other's keys and the room before anything goes away.
 */
export async function sharedRoom(host: Member, guest: Member, name: string): Promise<string> {
  const { room_id: roomId } = await host.client.ok('POST', `${V3}/createRoom`, { preset: 'private_chat', name, power_level_content_override: { users: { [host.userId]: 100, [guest.userId]: 100 } } }, host.token);
  await host.client.ok('POST', `${room(roomId)}/invite`, { user_id: guest.userId }, host.token);
  await eventually(`the invite to ${guest.userId}`, async () => ((await guest.client.ok('GET', `${V3}/sync?timeout=0`, undefined, guest.token)).rooms?.invite?.[roomId] ? true : undefined), 60_000, 200);
  await guest.client.ok('POST', `${V3}/join/${encodeURIComponent(roomId)}`, {}, guest.token);
  await send(host, roomId, `${name}: hello from the host`);
  await eventually('the host message at the guest', async () => ((await newestBodies(guest, roomId, 5)).includes(`${name}: hello from the host`) ? true : undefined), 60_000);
  await send(guest, roomId, `${name}: hello from the guest`);
  await eventually('the guest message at the host', async () => ((await newestBodies(host, roomId, 5)).includes(`${name}: hello from the guest`) ? true : undefined), 60_000);
  return roomId;
}

let txn = 0;
export async function send(m: Member, roomId: string, body: string): Promise<void> {
  await m.client.ok('PUT', `${room(roomId)}/send/m.room.message/off-${process.pid}-${++txn}`, { msgtype: 'm.text', body }, m.token);
}

/** Both servers' proxies, for bytes between them. */
const countOf = (a: OfflineServer, b: OfflineServer): WireCount => sumCounts([a.proxy.snapshot(), b.proxy.snapshot()]);

/**
 * After a restart, the returning user's client does what a reconnecting client does first: one
 * `/sync` (on Synapse it also marks the user online, which sends presence to the peer: the first
 * contact that ends the peer's backoff when nothing else does).
 */
async function reconnect(m: Member): Promise<void> {
  await m.client.ok('GET', `${V3}/sync?timeout=0`, undefined, m.token);
}

export interface CatchUpResult {
  /** From the returning server's process start to its client API having everything. */
  fromStartMs: number;
  /** From its client API answering again to having everything. */
  fromServingMs: number;
  /** Federation traffic between the two servers from the restart until 2 s after convergence. */
  bytes: WireCount;
}

/**
 * Scenario 1: `away`'s server goes away; `stayer` sends `messages` messages and changes the topic;
 * `away`'s server comes back: until its client API shows every message (one `/messages` page) and
 * the topic.
 */
export async function catchUpAfterRestart(away: Member, stayer: Member, roomId: string, messages: number, label: string): Promise<CatchUpResult> {
  const expected: string[] = [];
  const topic = `${label}: topic set while away`;
  const times = await away.server.awayWhile(async () => {
    for (let i = 0; i < messages; i++) {
      const body = `${label}: while away #${i}`;
      await send(stayer, roomId, body);
      expected.push(body);
    }
    await stayer.client.ok('PUT', `${room(roomId)}/state/m.room.topic/`, { topic }, stayer.token);
    // Long enough that the stayer's server tried, failed and backed off.
    await new Promise((done) => setTimeout(done, 2000));
  });
  const before = countOf(away.server, stayer.server);
  await reconnect(away);
  const doneAt = await eventually(
    `${messages} messages and the topic on ${away.server.kind}`,
    async () => {
      const bodies = new Set(await newestBodies(away, roomId, messages + 20));
      if (!expected.every((b) => bodies.has(b))) return undefined;
      const state = await away.client.request('GET', `${room(roomId)}/state/m.room.topic/`, undefined, away.token);
      return state.status === 200 && state.body.topic === topic ? performance.now() : undefined;
    },
    180_000,
    50,
  );
  await new Promise((done) => setTimeout(done, 2000));
  const bytes = countSince(countOf(away.server, stayer.server), before);
  return { fromStartMs: doneAt - times.startedAt, fromServingMs: doneAt - times.servingAt, bytes };
}

export interface MessageBytesResult {
  perMessage: WireCount;
  messages: number;
}

/**
 * Bytes per federated message: `sender` sends `count` messages one at a time, each awaited at the
 * receiver's client API, then 2 s of quiet; everything between the two servers' listeners, divided
 * by `count`.
 */
export async function bytesPerMessage(sender: Member, receiver: Member, roomId: string, count: number, label: string): Promise<MessageBytesResult> {
  await new Promise((done) => setTimeout(done, 1000));
  const before = countOf(sender.server, receiver.server);
  for (let i = 0; i < count; i++) {
    const body = `${label}: bytes #${i}`;
    await send(sender, roomId, body);
    await eventually(`"${body}" at ${receiver.server.kind}`, async () => ((await newestBodies(receiver, roomId, 3)).includes(body) ? true : undefined), 60_000, 20);
  }
  await new Promise((done) => setTimeout(done, 2000));
  const total = countSince(countOf(sender.server, receiver.server), before);
  const per = (n: number) => n / count;
  return {
    messages: count,
    perMessage: {
      connections: per(total.connections),
      wireBytes: per(total.wireBytes),
      httpBytes: per(total.httpBytes),
      requests: per(total.requests),
      byEndpoint: Object.fromEntries(Object.entries(total.byEndpoint).map(([k, v]) => [k, { requests: per(v.requests), requestBytes: per(v.requestBytes), responseBytes: per(v.responseBytes) }])),
    },
  };
}

export interface BacklogResult {
  events: number;
  /** Wall time the sender's user took to send the backlog (untimed setup, reported). */
  setupMs: number;
  /** From the receiver's process start to its client API showing the newest backlog message. */
  newestMs: number;
  /** From the process start until one back-pagination walk found every backlog message; undefined if never. */
  completeMs?: number;
  /** Backlog messages a walk found at best (== events when complete). */
  found: number;
  /** Back-pagination walks it took (each walks /messages from the newest event to the first). */
  walks: number;
  /** Federation traffic between the two servers from the restart until complete (or given up). */
  bytes: WireCount;
  /** Peak RSS of the receiving or sending Hearth process during the catch-up (VmHWM), if one is Hearth. */
  peakRssBytes?: number;
}

/**
 * Scenario 2: `receiver`'s server goes away while `sender` sends `events` messages (`concurrency`
 * in flight); it comes back; then its user's client walks `/messages` back from the newest event
 * (1,000 a page) and counts the backlog's messages, walking again until it has all of them, or until
 * `giveUpMs` after the restart / {@link STALL_GIVE_UP_MS} without a new message.
 */
/** How long walks may find nothing new before the backlog counts as not complete. */
const STALL_GIVE_UP_MS = 60_000;

export async function backlogCatchUp(
  receiver: Member,
  sender: Member,
  roomId: string,
  events: number,
  opts: { label: string; concurrency: number; giveUpMs: number; onRestart?: () => void; log?: (line: string) => void },
): Promise<BacklogResult> {
  const prefix = `${opts.label}: backlog #`;
  let setupMs = 0;
  const times = await receiver.server.awayWhile(async () => {
    const start = performance.now();
    await runConcurrently(events, opts.concurrency, (i) => send(sender, roomId, `${prefix}${i}`));
    setupMs = performance.now() - start;
    opts.log?.(`bench: offline: ${opts.label}: ${events} events sent in ${(setupMs / 1000).toFixed(1)} s`);
    await new Promise((done) => setTimeout(done, 2000));
  });
  opts.onRestart?.();
  const before = countOf(receiver.server, sender.server);
  await reconnect(receiver);
  const newestAt = await eventually(`the newest backlog message on ${receiver.server.kind}`, async () => ((await newestBodies(receiver, roomId, 50)).some((b) => b.startsWith(prefix)) ? performance.now() : undefined), opts.giveUpMs, 50);
  let best = 0;
  let walks = 0;
  let progressAt = performance.now();
  let completeAt: number | undefined;
  while (performance.now() - times.startedAt < opts.giveUpMs) {
    walks++;
    const seen = await walkBacklog(receiver, roomId, prefix);
    const found = seen.size;
    if (found >= events) {
      completeAt = performance.now();
      best = found;
      break;
    }
    if (found > best) progressAt = performance.now();
    best = Math.max(best, found);
    const missing = Array.from({ length: events }, (_, i) => i).filter((i) => !seen.has(`${prefix}${i}`));
    opts.log?.(`bench: offline: ${opts.label}: walk ${walks} found ${found} of ${events}; missing #${missing.slice(0, 12).join(', #')}${missing.length > 12 ? ', ...' : ''}`);
    // A long gap becomes visible all at once, when its events are placed after the whole walk back
    // (seconds of get_missing_events and /backfill): only a long silence means it will not come.
    if (performance.now() - progressAt > STALL_GIVE_UP_MS) break;
    await new Promise((done) => setTimeout(done, 1000));
  }
  const bytes = countSince(countOf(receiver.server, sender.server), before);
  return { events, setupMs, newestMs: newestAt - times.startedAt, completeMs: completeAt === undefined ? undefined : completeAt - times.startedAt, found: best, walks, bytes };
}

/** One back-pagination walk from the newest event: the distinct backlog messages it met. */
async function walkBacklog(m: Member, roomId: string, prefix: string): Promise<Set<string>> {
  const seen = new Set<string>();
  let from: string | undefined;
  for (let pages = 0; pages < 1000; pages++) {
    const query = `dir=b&limit=1000${from ? `&from=${encodeURIComponent(from)}` : ''}`;
    const page = await m.client.ok('GET', `${room(roomId)}/messages?${query}`, undefined, m.token);
    for (const e of page.chunk as any[]) {
      if (e.type === 'm.room.message' && typeof e.content?.body === 'string' && e.content.body.startsWith(prefix)) seen.add(e.content.body);
    }
    if (!page.end || (page.chunk as any[]).length === 0) break;
    from = page.end as string;
  }
  return seen;
}
