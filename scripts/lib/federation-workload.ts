/**
 * The federation workload (issue 11, Figures): two servers of any kind (Hearth or Synapse), driven
 * only through their Client-Server APIs with the same client code, timed from a client request on
 * one server to what a waiting `/sync` long-poll on the other returns.
 */
import { JsonHttpClient } from './http-client.js';

const V3 = '/_matrix/client/v3';
// Nothing but rooms: presence and account data would wake the long-polls for nothing.
const FILTER = encodeURIComponent(JSON.stringify({ presence: { types: [] }, account_data: { types: [] }, room: { timeline: { limit: 20 }, state: { lazy_load_members: true }, account_data: { types: [] }, ephemeral: { types: [] } } }));
/** No single step of the workload may wait longer than this (a lost event must not hang `make bench`). */
const STEP_TIMEOUT_MS = 120_000;

/** `promise`, or an error naming `what` once `ms` have passed (a request that never answers). */
function bounded<T>(promise: Promise<T>, what: string, ms = STEP_TIMEOUT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, fail) => {
    timer = setTimeout(() => fail(new Error(`${what}: no answer within ${ms / 1000} s`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** A user of one server, with its own `/sync` position. */
export interface Party {
  /** For labels: `Hearth`, `Synapse`, ... */
  kind: string;
  client: JsonHttpClient;
  token: string;
  userId: string;
  since?: string;
}

export async function party(kind: string, clientUrl: string, token: string): Promise<Party> {
  const client = new JsonHttpClient(clientUrl);
  const userId = (await client.ok('GET', `${V3}/account/whoami`, undefined, token)).user_id as string;
  const p: Party = { kind, client, token, userId };
  await catchUp(p);
  return p;
}

/** Moves the party's `/sync` position to now (untimed), so the next long-poll waits for news. */
export async function catchUp(p: Party): Promise<void> {
  const query = p.since ? `&since=${encodeURIComponent(p.since)}` : '';
  p.since = (await p.client.ok('GET', `${V3}/sync?timeout=0&filter=${FILTER}${query}`, undefined, p.token)).next_batch as string;
}

/** Long-polls from the party's position until `found` accepts a response; resolves when it does. */
async function syncUntil(p: Party, what: string, found: (res: any) => boolean): Promise<number> {
  const deadline = performance.now() + STEP_TIMEOUT_MS;
  for (;;) {
    const remaining = deadline - performance.now();
    if (remaining <= 0) throw new Error(`${p.userId} waited ${STEP_TIMEOUT_MS / 1000} s for ${what}`);
    const timeout = Math.max(1, Math.min(30_000, Math.floor(remaining)));
    const res = await bounded(p.client.ok('GET', `${V3}/sync?timeout=${timeout}&filter=${FILTER}&since=${encodeURIComponent(p.since!)}`, undefined, p.token), `${p.kind} /sync`, timeout + 30_000);
    p.since = res.next_batch as string;
    if (found(res)) return performance.now();
  }
}

function joinedRoomEvents(res: any, roomId: string): any[] {
  const room = res.rooms?.join?.[roomId];
  return [...(room?.state?.events ?? []), ...(room?.timeline?.events ?? [])];
}

/** A private room on the host's server, nobody invited yet (untimed). */
export async function createRoom(host: Party): Promise<string> {
  const { room_id: roomId } = await host.client.ok('POST', `${V3}/createRoom`, { preset: 'private_chat', name: 'bench: federation' }, host.token);
  return roomId as string;
}

/**
 * Join via invite: from the host's invite request to the host's `/sync` returning the invitee's join.
 * In between: the invite crosses to the invitee's server (countersigned there), the invitee's
 * long-poll returns it, the invitee joins (make_join/send_join through the host), the join comes
 * back to the host's long-poll. Both parties' positions are caught up first, so each long-poll
 * waits for this step only.
 */
export async function joinViaInvite(host: Party, invitee: Party, roomId: string): Promise<number> {
  await Promise.all([catchUp(host), catchUp(invitee)]);
  const hostSees = syncUntil(host, `${invitee.userId}'s join of ${roomId}`, (res) =>
    joinedRoomEvents(res, roomId).some((e) => e.type === 'm.room.member' && e.state_key === invitee.userId && e.content?.membership === 'join'),
  );
  hostSees.catch(() => undefined); // awaited below; an early failure of the invite must not leave it unhandled
  const start = performance.now();
  await bounded(host.client.ok('POST', `${V3}/rooms/${encodeURIComponent(roomId)}/invite`, { user_id: invitee.userId }, host.token), `${host.kind} invite of ${invitee.userId}`);
  await syncUntil(invitee, `the invite to ${roomId}`, (res) => res.rooms?.invite?.[roomId] !== undefined);
  await bounded(invitee.client.ok('POST', `${V3}/join/${encodeURIComponent(roomId)}`, {}, invitee.token), `${invitee.kind} join of ${roomId}`);
  return (await hostSees) - start;
}

let txn = 0;

/**
 * Message latency: the receiver long-polls, the sender sends; from the send request (not its
 * acknowledgement: the federation send starts after it) to the receiver's `/sync` returning the
 * message.
 */
export async function messageLatency(sender: Party, receiver: Party, roomId: string): Promise<number> {
  const body = `bench ${process.pid} ${++txn}`;
  const arrived = syncUntil(receiver, `message "${body}"`, (res) => joinedRoomEvents(res, roomId).some((e) => e.type === 'm.room.message' && e.content?.body === body));
  arrived.catch(() => undefined);
  // Let the long-poll reach its server and park (it would also return the message if it had not).
  await new Promise((done) => setTimeout(done, 10));
  const start = performance.now();
  await bounded(sender.client.ok('PUT', `${V3}/rooms/${encodeURIComponent(roomId)}/send/m.room.message/fb-${process.pid}-${txn}`, { msgtype: 'm.text', body }, sender.token), `${sender.kind} send`);
  return (await arrived) - start;
}

/**
 * A user joins a room of another server by alias: the time of `POST /join` (make_join, send_join
 * with the room's whole state and auth chain, verified and stored, the join event persisted).
 */
export async function joinByAlias(p: Party, alias: string): Promise<{ ms: number; roomId: string }> {
  const start = performance.now();
  // A 2,000-member room on a loaded machine: generous, but bounded.
  const res = await bounded(p.client.request('POST', `${V3}/join/${encodeURIComponent(alias)}`, {}, p.token), `${p.kind} join of ${alias}`, 300_000);
  const ms = performance.now() - start;
  if (res.status !== 200) throw new Error(`${p.kind} join of ${alias}: ${res.status} ${JSON.stringify(res.body)}`);
  return { ms, roomId: res.body.room_id as string };
}

export async function leave(p: Party, roomId: string): Promise<void> {
  await bounded(p.client.ok('POST', `${V3}/rooms/${encodeURIComponent(roomId)}/leave`, {}, p.token), `${p.kind} leave of ${roomId}`);
}

export async function joinedMemberCount(p: Party, roomId: string): Promise<number> {
  const answer = await bounded(p.client.ok('GET', `${V3}/rooms/${encodeURIComponent(roomId)}/joined_members`, undefined, p.token), `${p.kind} joined_members of ${roomId}`, 300_000);
  return Object.keys(answer.joined ?? {}).length;
}
