/**
 * The Client-Server workload (issue "Foundation", Figures). Every step uses the same JsonHttpClient
 * against whichever server is measured; the bare ceiling can only answer the write steps.
 */
import { JsonHttpClient } from './http-client.js';
import { percentile, perSecond, runConcurrently } from './stats.js';

const V3 = '/_matrix/client/v3';

export interface RoomSession {
  client: JsonHttpClient;
  token: string;
  roomId: string;
}

let txnCounter = 0;
function txnId(): string {
  return `bench-${process.pid}-${Date.now()}-${++txnCounter}`;
}

function sendPath(roomId: string): string {
  return `${V3}/rooms/${encodeURIComponent(roomId)}/send/m.room.message/${txnId()}`;
}

/** Registers a user with the `m.login.dummy` flow (needs HEARTH_REGISTRATION=open). */
export async function register(client: JsonHttpClient, username: string): Promise<string> {
  const body: Record<string, unknown> = { username, password: `pw-${username}-bench`, auth: { type: 'm.login.dummy' } };
  let res = await client.request('POST', `${V3}/register`, body);
  if (res.status === 401 && res.body?.session) {
    // UIA: the server wants the session id back with the dummy stage.
    body.auth = { type: 'm.login.dummy', session: res.body.session };
    res = await client.request('POST', `${V3}/register`, body);
  }
  if (res.status !== 200) throw new Error(`register ${username}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.access_token as string;
}

export interface TwoUserRoom {
  alice: RoomSession;
  bobToken: string;
}

/** Alice creates a private room and invites Bob, who joins. */
export async function setUpRoom(client: JsonHttpClient): Promise<TwoUserRoom> {
  const suffix = Date.now().toString(36);
  const aliceToken = await register(client, `alice${suffix}`);
  const bobToken = await register(client, `bob${suffix}`);
  const bobId = (await client.ok('GET', `${V3}/account/whoami`, undefined, bobToken)).user_id as string;
  const { room_id: roomId } = await client.ok('POST', `${V3}/createRoom`, { preset: 'private_chat', invite: [bobId] }, aliceToken);
  await client.ok('POST', `${V3}/join/${encodeURIComponent(roomId)}`, {}, bobToken);
  return { alice: { client, token: aliceToken, roomId }, bobToken };
}

function message(i: number): Record<string, unknown> {
  return { msgtype: 'm.text', body: `benchmark message ${i}` };
}

/** Sequential and concurrent sends for `ms` of wall time: JIT tiering and the connection pool settle. */
export async function warmUp(session: RoomSession, ms: number): Promise<void> {
  const deadline = performance.now() + ms;
  while (performance.now() < deadline) {
    await sequentialSends(session, 100);
    await concurrentSends(session, 100, 16);
  }
}

export async function sequentialSends(session: RoomSession, count: number): Promise<number> {
  const start = performance.now();
  for (let i = 0; i < count; i++) await session.client.ok('PUT', sendPath(session.roomId), message(i), session.token);
  return perSecond(count, performance.now() - start);
}

export async function concurrentSends(session: RoomSession, count: number, inFlight: number): Promise<number> {
  const ms = await runConcurrently(count, inFlight, async (i) => {
    await session.client.ok('PUT', sendPath(session.roomId), message(i), session.token);
  });
  return perSecond(count, ms);
}

export async function statePuts(session: RoomSession, count: number): Promise<number> {
  const start = performance.now();
  for (let i = 0; i < count; i++) {
    const path = `${V3}/rooms/${encodeURIComponent(session.roomId)}/state/m.room.topic/`;
    await session.client.ok('PUT', path, { topic: `topic ${i}` }, session.token);
  }
  return perSecond(count, performance.now() - start);
}

/**
 * `/sync` wake-up: Bob long-polls; Alice sends; the latency is from Alice's send acknowledgement to
 * Bob's sync response arriving (negative when the sync arrives before the ack).
 */
export async function syncWakeup(room: TwoUserRoom, rounds: number): Promise<{ p50: number; p95: number }> {
  const { client, roomId } = room.alice;
  const filter = encodeURIComponent(JSON.stringify({ room: { timeline: { limit: 5 } }, presence: { types: [] } }));
  let since = (await client.ok('GET', `${V3}/sync?filter=${filter}`, undefined, room.bobToken)).next_batch as string;
  const latencies: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const body = { msgtype: 'm.text', body: `wake ${i}` };
    let arrived = 0;
    const poll = (async () => {
      for (;;) {
        const res = await client.ok('GET', `${V3}/sync?timeout=30000&since=${since}&filter=${filter}`, undefined, room.bobToken);
        since = res.next_batch;
        const events = (res.rooms?.join?.[roomId]?.timeline?.events ?? []) as Array<{ content?: { body?: string } }>;
        if (events.some((e) => e.content?.body === body.body)) {
          arrived = performance.now();
          return;
        }
      }
    })();
    // Let the long-poll reach the server and park before the send.
    await new Promise((done) => setTimeout(done, 5));
    await client.ok('PUT', sendPath(roomId), body, room.alice.token);
    const acked = performance.now();
    await poll;
    latencies.push(arrived - acked);
  }
  return { p50: percentile(latencies, 50), p95: percentile(latencies, 95) };
}

export async function initialSyncMs(client: JsonHttpClient, token: string): Promise<number> {
  const start = performance.now();
  await client.ok('GET', `${V3}/sync`, undefined, token);
  return performance.now() - start;
}

/** Pages `/messages` backwards from the end of the timeline to its start. */
export async function backPaginate(session: RoomSession, pageSize: number): Promise<{ ms: number; events: number }> {
  const start = performance.now();
  let from: string | undefined;
  let events = 0;
  for (;;) {
    const query = `dir=b&limit=${pageSize}${from ? `&from=${encodeURIComponent(from)}` : ''}`;
    const page = await session.client.ok('GET', `${V3}/rooms/${encodeURIComponent(session.roomId)}/messages?${query}`, undefined, session.token);
    events += (page.chunk as unknown[]).length;
    if (!page.end || (page.chunk as unknown[]).length === 0) break;
    from = page.end;
  }
  return { ms: performance.now() - start, events };
}
