/**
 * Shared steps of the federation scenarios (issue 11 "Proof"): two servers, any mix of Hearth and
 * Synapse, driven through the Client-Server API only, compared by what clients read.
 */
import type { ExecutionContext } from 'ava';
import { request } from '../integration/helpers/http.js';

/** Logs of the servers under test, shown when a wait times out. */
let diagnostics: () => string = () => '';
export function setDiagnostics(fn: () => string): void {
  diagnostics = fn;
}

export interface Side {
  base: string;
  token: string;
  userId: string;
}

export async function call(side: Side, method: string, path: string, json?: unknown): Promise<any> {
  const res = await request(side.base, method, path, { token: side.token, ...(json !== undefined ? { json } : {}) });
  if (res.status !== 200) throw new Error(`${method} ${path} on ${side.base}: ${res.status} ${res.text}`);
  return res.body;
}

/** Polls `probe` until it returns a value (not undefined) or the deadline passes. */
export async function eventually<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}\n${diagnostics()}`);
}

async function membershipOf(side: Side, roomId: string, userId: string): Promise<string | undefined> {
  const res = await request(side.base, 'GET', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/state/m.room.member/${encodeURIComponent(userId)}`, { token: side.token });
  return res.status === 200 ? res.body.membership : undefined;
}

async function invitedRooms(side: Side): Promise<string[]> {
  const sync = await call(side, 'GET', '/_matrix/client/v3/sync?timeout=0');
  return Object.keys(sync.rooms?.invite ?? {});
}

/** A room's Client-Server path: `/_matrix/client/v3/rooms/{roomId}` + `rest`. */
export const roomPath = (roomId: string, rest: string) => `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}${rest}`;

/** The bodies of the room's `m.room.message` events, oldest first (one /messages page back from the newest). */
export async function messageBodies(side: Side, roomId: string, limit = 1000): Promise<string[]> {
  const page = await call(side, 'GET', roomPath(roomId, `/messages?dir=b&limit=${limit}`));
  return (page.chunk as any[]).filter((e) => e.type === 'm.room.message').map((e) => e.content.body as string).reverse();
}

/** Waits until `side` has exactly `expected` messages (more fails at once: nothing may arrive twice). */
export async function converged(side: Side, roomId: string, expected: string[], what: string): Promise<string[]> {
  return eventually(what, async () => {
    const bodies = await messageBodies(side, roomId);
    if (bodies.length > expected.length) throw new Error(`more messages than sent: ${bodies.length}`);
    return bodies.length === expected.length ? bodies : undefined;
  });
}

/** The content of a state event (empty state key); throws when there is none. */
export async function stateContent(side: Side, roomId: string, type: string): Promise<any> {
  return call(side, 'GET', roomPath(roomId, `/state/${type}/`));
}

/** The content of a state event (empty state key), undefined when there is none yet. */
export async function stateContentIfAny(side: Side, roomId: string, type: string): Promise<any> {
  const res = await request(side.base, 'GET', roomPath(roomId, `/state/${type}/`), { token: side.token });
  return res.status === 200 ? res.body : undefined;
}

/** A room's current state as `type|state_key -> event_id`, read through the Client-Server API. */
export async function currentState(side: Side, roomId: string): Promise<Record<string, string>> {
  const events = (await call(side, 'GET', roomPath(roomId, '/state'))) as any[];
  return Object.fromEntries(events.map((e) => [`${e.type}|${e.state_key}`, e.event_id as string]).sort(([a], [b]) => (a! < b! ? -1 : 1)));
}

let counter = 0;
/** An `m.text` message from `side` (a fresh transaction id each time). */
export async function send(side: Side, roomId: string, body: string): Promise<void> {
  await call(side, 'PUT', roomPath(roomId, `/send/m.room.message/t${++counter}`), { msgtype: 'm.text', body });
}

export async function exchange(t: ExecutionContext, creator: Side, invitee: Side, version: string, label: string): Promise<void> {
  const created = await call(creator, 'POST', '/_matrix/client/v3/createRoom', { room_version: version, preset: 'private_chat', name: `${label} v${version}` });
  const roomId: string = created.room_id;
  await call(creator, 'POST', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/invite`, { user_id: invitee.userId });
  await eventually(`the invite on ${invitee.base}`, async () => ((await invitedRooms(invitee)).includes(roomId) ? true : undefined));
  await call(invitee, 'POST', `/_matrix/client/v3/join/${encodeURIComponent(roomId)}`, {});
  await eventually(`the join seen by the creator's server`, async () => ((await membershipOf(creator, roomId, invitee.userId)) === 'join' ? true : undefined));

  const expected: string[] = [];
  for (let i = 0; i < 20; i++) {
    const body = `${label} v${version} from creator #${i}`;
    await send(creator, roomId, body);
    expected.push(body);
  }
  await eventually('the creator\'s 20 messages on the invitee\'s server', async () => ((await messageBodies(invitee, roomId)).length >= 20 ? true : undefined));
  for (let i = 0; i < 20; i++) {
    const body = `${label} v${version} from invitee #${i}`;
    await send(invitee, roomId, body);
    expected.push(body);
  }
  const [onCreator, onInvitee] = await Promise.all([
    eventually('all 40 messages on the creator\'s server', async () => {
      const bodies = await messageBodies(creator, roomId);
      return bodies.length >= 40 ? bodies : undefined;
    }),
    eventually('all 40 messages on the invitee\'s server', async () => {
      const bodies = await messageBodies(invitee, roomId);
      return bodies.length >= 40 ? bodies : undefined;
    }),
  ]);
  t.deepEqual(onCreator, expected, `creator's /messages in v${version}`);
  t.deepEqual(onInvitee, expected, `invitee's /messages in v${version}`);

  // A topic and a power-level change, made by the creator, read back identically on both sides.
  await call(creator, 'PUT', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/state/m.room.topic/`, { topic: `topic of ${label} v${version}` });
  const levels = await stateContent(creator, roomId, 'm.room.power_levels');
  levels.users = { ...(levels.users ?? {}), [invitee.userId]: 50 };
  await call(creator, 'PUT', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/state/m.room.power_levels/`, levels);
  const topic = await eventually('the topic on the invitee\'s server', async () => {
    const res = await request(invitee.base, 'GET', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/state/m.room.topic/`, { token: invitee.token });
    return res.status === 200 && res.body.topic === `topic of ${label} v${version}` ? res.body : undefined;
  });
  t.deepEqual(topic, await stateContent(creator, roomId, 'm.room.topic'));
  const inviteeLevels = await eventually('the power levels on the invitee\'s server', async () => {
    const content = await stateContent(invitee, roomId, 'm.room.power_levels');
    return content.users?.[invitee.userId] === 50 ? content : undefined;
  });
  t.deepEqual(inviteeLevels, await stateContent(creator, roomId, 'm.room.power_levels'));

  // A reaction and redactions crossing: the invitee reacts to the creator's message, and each side
  // redacts a message of its own. Both servers aggregate the reaction under the message and serve
  // both messages redacted (no content, the redaction in `unsigned`), as Synapse shows them.
  const room = encodeURIComponent(roomId);
  const fromCreator = (await call(creator, 'PUT', `/_matrix/client/v3/rooms/${room}/send/m.room.message/t${++counter}`, { msgtype: 'm.text', body: 'react to me, then I go' })).event_id as string;
  const fromInvitee = (await call(invitee, 'PUT', `/_matrix/client/v3/rooms/${room}/send/m.room.message/t${++counter}`, { msgtype: 'm.text', body: 'a typo' })).event_id as string;
  await eventually('each message on the other server', async () => ((await eventOf(invitee, roomId, fromCreator)) && (await eventOf(creator, roomId, fromInvitee)) ? true : undefined));
  const reaction = (await call(invitee, 'PUT', `/_matrix/client/v3/rooms/${room}/send/m.reaction/t${++counter}`, { 'm.relates_to': { rel_type: 'm.annotation', event_id: fromCreator, key: '👍' } })).event_id as string;
  for (const side of [creator, invitee]) {
    const reactions = await eventually(`the reaction among the message's relations on ${side.base}`, async () => {
      const res = await request(side.base, 'GET', `/_matrix/client/v1/rooms/${room}/relations/${encodeURIComponent(fromCreator)}/m.annotation`, { token: side.token });
      return res.status === 200 && res.body.chunk.length > 0 ? res.body.chunk : undefined;
    });
    t.deepEqual(reactions.map((e: any) => [e.event_id, e.sender, e.content['m.relates_to'].key]), [[reaction, invitee.userId, '👍']]);
  }
  const redactions = [
    (await call(creator, 'PUT', `/_matrix/client/v3/rooms/${room}/redact/${encodeURIComponent(fromCreator)}/t${++counter}`, { reason: 'done' })).event_id as string,
    (await call(invitee, 'PUT', `/_matrix/client/v3/rooms/${room}/redact/${encodeURIComponent(fromInvitee)}/t${++counter}`, {})).event_id as string,
  ];
  for (const side of [creator, invitee]) {
    for (const [i, target] of [fromCreator, fromInvitee].entries()) {
      const redacted = await eventually(`${target} redacted on ${side.base}`, async () => {
        const event = await eventOf(side, roomId, target);
        return event?.unsigned?.redacted_because ? event : undefined;
      });
      t.deepEqual(redacted.content, {}, `no content left on ${side.base}`);
      t.is(redacted.unsigned.redacted_because.event_id, redactions[i]);
    }
  }
}

async function eventOf(side: Side, roomId: string, eventId: string): Promise<any> {
  const res = await request(side.base, 'GET', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/event/${encodeURIComponent(eventId)}`, { token: side.token });
  return res.status === 200 ? res.body : undefined;
}

