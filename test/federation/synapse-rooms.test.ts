/**
 * Federation with a real Synapse (issue 11 "Proof", scenarios 1 and 2), for room versions 10, 11
 * and 12: a room created on one server, the invite crossing to the other, the join, 20 messages
 * each way in order, and a topic and a power-level change, compared on both servers through the
 * Client-Server API (`/messages`, `/state`).
 */
import test from 'ava';
import { startHearth, type HearthServer } from '../integration/helpers/server.js';
import { registerUser, request } from '../integration/helpers/http.js';
import { startSynapse, type SynapsePeer } from '../integration/helpers/synapse.js';

let hearth: HearthServer;
let synapse: SynapsePeer;

test.before(async () => {
  [hearth, synapse] = await Promise.all([startHearth({ federated: true }), startSynapse()]);
});

test.after.always(async () => {
  await Promise.all([hearth?.stop(), synapse?.stop()]);
});

interface Side {
  base: string;
  token: string;
  userId: string;
}

async function call(side: Side, method: string, path: string, json?: unknown): Promise<any> {
  const res = await request(side.base, method, path, { token: side.token, ...(json !== undefined ? { json } : {}) });
  if (res.status !== 200) throw new Error(`${method} ${path} on ${side.base}: ${res.status} ${res.text}`);
  return res.body;
}

/** Polls `probe` until it returns a value (not undefined) or the deadline passes. */
async function eventually<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
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
  throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}\n--- hearth ---\n${hearth.output().slice(-4000)}\n--- synapse ---\n${synapse.log().slice(-3000)}`);
}

async function membershipOf(side: Side, roomId: string, userId: string): Promise<string | undefined> {
  const res = await request(side.base, 'GET', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/state/m.room.member/${encodeURIComponent(userId)}`, { token: side.token });
  return res.status === 200 ? res.body.membership : undefined;
}

async function invitedRooms(side: Side): Promise<string[]> {
  const sync = await call(side, 'GET', '/_matrix/client/v3/sync?timeout=0');
  return Object.keys(sync.rooms?.invite ?? {});
}

async function messageBodies(side: Side, roomId: string): Promise<string[]> {
  const page = await call(side, 'GET', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/messages?dir=b&limit=200`);
  return (page.chunk as any[]).filter((e) => e.type === 'm.room.message').map((e) => e.content.body as string).reverse();
}

async function stateContent(side: Side, roomId: string, type: string): Promise<any> {
  return call(side, 'GET', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/state/${type}/`);
}

let counter = 0;
async function send(side: Side, roomId: string, body: string): Promise<void> {
  await call(side, 'PUT', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/t${++counter}`, { msgtype: 'm.text', body });
}

async function exchange(t: any, creator: Side, invitee: Side, version: string, label: string): Promise<void> {
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
}

for (const version of ['10', '11', '12']) {
  test.serial(`scenario 1, v${version}: a Synapse room, a Hearth user invited and joined, 20 messages each way, topic and power levels`, async (t) => {
    const alice = await synapse.registerUser(`alice${version}`);
    const bob = await registerUser(hearth.baseUrl, `bob${version}`, 'secret-password-1');
    await exchange(
      t,
      { base: synapse.clientUrl, token: alice.accessToken, userId: alice.userId },
      { base: hearth.baseUrl, token: bob.accessToken, userId: bob.userId },
      version,
      'synapse-room',
    );
  });

  test.serial(`scenario 2, v${version}: a Hearth room, a Synapse user invited and joined, 20 messages each way, topic and power levels`, async (t) => {
    const carol = await registerUser(hearth.baseUrl, `carol${version}`, 'secret-password-1');
    const dave = await synapse.registerUser(`dave${version}`);
    await exchange(
      t,
      { base: hearth.baseUrl, token: carol.accessToken, userId: carol.userId },
      { base: synapse.clientUrl, token: dave.accessToken, userId: dave.userId },
      version,
      'hearth-room',
    );
  });
}
