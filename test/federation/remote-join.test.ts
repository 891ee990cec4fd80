/**
 * A local user joining a room of another server (server-server "Joining Rooms"), against a scripted
 * resident server: every event of the send_join answer is checked before the join is stored. A
 * member event nobody can verify any more (its server is gone) is left out of the state, as
 * Synapse does; a power-levels event that fails its checks refuses the whole join.
 */
import test from 'ava';
import pino from 'pino';
import { finalizePdu, type PduTemplate } from '../../src/core/event-builder.js';
import { generateSigningKey } from '../../src/core/signing.js';
import { getRoomVersionRules } from '../../src/core/room-versions.js';
import type { JsonObject, SigningKey } from '../../src/core/types.js';
import { PduHandler } from '../../src/federation/receive/pdu-handler.js';
import { RemoteMembershipMaker } from '../../src/federation/membership/remote-join.js';
import { MAX_SEND_JOIN_EVENT_BYTES } from '../../src/federation/membership/send-join-answer.js';
import { MatrixError } from '../../src/core/errors.js';
import type { FederationRequests, FederationStreams } from '../../src/federation/requests.js';
import { Readable } from 'node:stream';
import { openRoomStack, SERVER, type RoomStack } from '../helpers/room-stack.js';

const REMOTE = 'remote.test';
const GONE = 'gone.test';
const remoteKey = generateSigningKey();
const goneKey = generateSigningKey();
const rules = getRoomVersionRules('10')!;
const roomId = `!room:${REMOTE}`;
const rob = `@rob:${REMOTE}`;
const ghost = `@ghost:${GONE}`;
const joiner = `@alice:${SERVER}`;

function event(fields: { type: string; state_key?: string; sender: string; content: JsonObject; prev: string[]; auth: string[]; depth: number }, key: SigningKey = remoteKey, server = REMOTE) {
  const template: PduTemplate = {
    auth_events: fields.auth, content: fields.content, depth: fields.depth, origin_server_ts: 1_700_000_000_000 + fields.depth,
    prev_events: fields.prev, room_id: roomId, sender: fields.sender, type: fields.type,
    ...(fields.state_key !== undefined ? { state_key: fields.state_key } : {}),
  };
  return finalizePdu(template, { rules, serverName: server, key });
}

/** A public room on the remote server: Rob created it, a user of a server that is now gone joined. */
function remoteRoom(opts: { forgePowerLevels?: boolean } = {}) {
  const create = event({ type: 'm.room.create', state_key: '', sender: rob, content: { creator: rob, room_version: '10' }, prev: [], auth: [], depth: 1 });
  const robJoin = event({ type: 'm.room.member', state_key: rob, sender: rob, content: { membership: 'join' }, prev: [create.eventId], auth: [create.eventId], depth: 2 });
  let power = event({ type: 'm.room.power_levels', state_key: '', sender: rob, content: { users: { [rob]: 100 } }, prev: [robJoin.eventId], auth: [create.eventId, robJoin.eventId], depth: 3 });
  if (opts.forgePowerLevels) power = { ...power, pdu: { ...power.pdu, signatures: event({ type: 'm.room.power_levels', state_key: '', sender: rob, content: {}, prev: [], auth: [], depth: 3 }, generateSigningKey()).pdu.signatures } };
  const rules_ = event({ type: 'm.room.join_rules', state_key: '', sender: rob, content: { join_rule: 'public' }, prev: [power.eventId], auth: [create.eventId, robJoin.eventId, power.eventId], depth: 4 });
  const ghostJoin = event({ type: 'm.room.member', state_key: ghost, sender: ghost, content: { membership: 'join' }, prev: [rules_.eventId], auth: [create.eventId, power.eventId, rules_.eventId], depth: 5 }, goneKey, GONE);
  return { create, robJoin, power, rules: rules_, ghostJoin, all: [create, robJoin, power, rules_, ghostJoin] };
}

/** How the scripted resident server delivers its send_join answer (tests change it between joins). */
interface Delivery {
  /** The answer's text from the well-formed one. */
  text?: (wellFormed: string) => string;
  /** Bytes per chunk; default: the whole answer at once. */
  chunkBytes?: number;
  /** The transfer fails after this many bytes (a cut connection, the client's size cut or deadline). */
  failAfterBytes?: number;
  /** Every answer stream handed out, to see it was let go. */
  streams?: Readable[];
}

function sendJoinAnswer(room: ReturnType<typeof remoteRoom>): string {
  const pdus = room.all.map((e) => e.pdu as unknown as JsonObject);
  return JSON.stringify({ state: pdus, auth_chain: pdus.slice(0, 4), origin: REMOTE });
}

function chunked(bytes: Buffer, delivery: Delivery): Readable {
  const size = delivery.chunkBytes ?? bytes.length;
  async function* chunks() {
    for (let at = 0; at < bytes.length; at += size) {
      if (delivery.failAfterBytes !== undefined && at >= delivery.failAfterBytes) throw new Error('remote.test: connection reset');
      yield bytes.subarray(at, at + size);
    }
  }
  const stream = Readable.from(chunks(), { objectMode: false });
  delivery.streams?.push(stream);
  return stream;
}

function maker(stack: RoomStack, room: ReturnType<typeof remoteRoom>, delivery: Delivery = {}): RemoteMembershipMaker {
  const keys = {
    // The gone server's key can no longer be fetched: only the remote server's is known.
    publicKey: async (server: string, keyId: string) => {
      if (server === REMOTE && keyId === remoteKey.keyId) return remoteKey.publicKey;
      if (server === SERVER && keyId === stack.key.keyId) return stack.key.publicKey;
      return undefined;
    },
  };
  const log = pino({ level: 'silent' });
  const pdus = new PduHandler({ engine: stack.engine, keys, log, remote: { event: async () => { throw new Error('404'); }, backfill: async () => [], missingEvents: async () => [], stateIds: async () => { throw new Error('404'); } } });
  const requests: FederationRequests = {
    get: async (_dest, path) => {
      if (!path.includes('/make_join/')) throw new Error(`unexpected GET ${path}`);
      return {
        room_version: '10',
        event: { type: 'm.room.member', state_key: joiner, sender: joiner, room_id: roomId, content: { membership: 'join' }, depth: 6, prev_events: [room.ghostJoin.eventId], auth_events: [room.create.eventId, room.power.eventId, room.rules.eventId], origin_server_ts: 0 },
      };
    },
    put: async (_dest, path) => {
      throw new Error(`unexpected PUT ${path} (send_join is streamed)`);
    },
    post: async () => {
      throw new Error('unexpected POST');
    },
  };
  const streams: FederationStreams = {
    stream: async (req) => {
      if (req.method !== 'PUT' || !req.path.includes('/v2/send_join/')) throw new Error(`unexpected stream ${req.method} ${req.path}`);
      const wellFormed = sendJoinAnswer(room);
      return chunked(Buffer.from(delivery.text ? delivery.text(wellFormed) : wellFormed, 'utf8'), delivery);
    },
  };
  return new RemoteMembershipMaker({ engine: stack.engine, requests, streams, pdus, serverName: SERVER, signingKey: stack.key, log });
}

test('an unverifiable member event of a gone server is left out; the join and the rest of the state are stored', async (t) => {
  const stack = await openRoomStack();
  t.teardown(() => stack.close());
  const room = remoteRoom();
  const joinId = await maker(stack, room).join(joiner, roomId, [REMOTE], {});
  t.is(await stack.engine.membershipOf(joiner, roomId), 'join');
  t.is((await stack.engine.stateEvent(roomId, 'm.room.member', joiner))?.event_id, joinId);
  t.is((await stack.engine.stateEvent(roomId, 'm.room.power_levels', ''))?.event_id, room.power.eventId);
  t.is((await stack.engine.stateEvent(roomId, 'm.room.member', rob))?.event_id, room.robJoin.eventId);
  t.is(await stack.engine.stateEvent(roomId, 'm.room.member', ghost), undefined);
  // The state events are outliers: the timeline starts at our join.
  const timeline = await stack.engine.timeline(stack.engine.room(roomId)!.short, { from: Number.MAX_SAFE_INTEGER, dir: 'b', limit: 10 });
  t.is(timeline.length, 1);
});

test('a send_join answer whose power levels fail their signature check refuses the join and stores no membership', async (t) => {
  const stack = await openRoomStack();
  t.teardown(() => stack.close());
  const room = remoteRoom({ forgePowerLevels: true });
  await t.throwsAsync(maker(stack, room).join(joiner, roomId, [REMOTE], {}), { message: /m\.room\.power_levels|auth chain|Could not join/ });
  t.not(await stack.engine.membershipOf(joiner, roomId), 'join');
});

test('make_join templates for another user or room are refused before anything is signed', async (t) => {
  const stack = await openRoomStack();
  t.teardown(() => stack.close());
  const room = remoteRoom();
  const m = maker(stack, room);
  await t.throwsAsync(m.join('@mallory:' + SERVER, roomId, [REMOTE], {}), { message: /another event|Could not join/ });
  t.is(await stack.engine.membershipOf('@mallory:' + SERVER, roomId), undefined);
});


/** What the first test checks of a successful join. */
async function joinedWithState(t: import('ava').ExecutionContext, stack: RoomStack, room: ReturnType<typeof remoteRoom>, joinId: string): Promise<void> {
  t.is(await stack.engine.membershipOf(joiner, roomId), 'join');
  t.is((await stack.engine.stateEvent(roomId, 'm.room.member', joiner))?.event_id, joinId);
  t.is((await stack.engine.stateEvent(roomId, 'm.room.create', ''))?.event_id, room.create.eventId);
  t.is((await stack.engine.stateEvent(roomId, 'm.room.power_levels', ''))?.event_id, room.power.eventId);
  t.is((await stack.engine.stateEvent(roomId, 'm.room.join_rules', ''))?.event_id, room.rules.eventId);
  t.is((await stack.engine.stateEvent(roomId, 'm.room.member', rob))?.event_id, room.robJoin.eventId);
  t.is(await stack.engine.stateEvent(roomId, 'm.room.member', ghost), undefined);
}

test('a send_join answer delivered in small chunks joins as one delivered whole', async (t) => {
  for (const chunkBytes of [1, 3, 64, 1000]) {
    const stack = await openRoomStack();
    const room = remoteRoom();
    const joinId = await maker(stack, room, { chunkBytes }).join(joiner, roomId, [REMOTE], {});
    await joinedWithState(t, stack, room, joinId);
    await stack.close();
  }
});

test('the answer is read whichever order its members come in, with spacing and members we do not use', async (t) => {
  const stack = await openRoomStack();
  t.teardown(() => stack.close());
  const room = remoteRoom();
  const text = (wellFormed: string) => {
    const answer = JSON.parse(wellFormed) as JsonObject;
    return JSON.stringify({ servers_in_room: [REMOTE], members_omitted: false, auth_chain: answer.auth_chain, origin: REMOTE, 'x.unknown': { state: [] }, state: answer.state }, null, 2);
  };
  const joinId = await maker(stack, room, { text, chunkBytes: 17 }).join(joiner, roomId, [REMOTE], {});
  await joinedWithState(t, stack, room, joinId);
});

/** A failed join leaves nothing behind: no membership, no room adopted, the answer's stream let go. */
async function failsCleanly(t: import('ava').ExecutionContext, delivery: Delivery, message: RegExp): Promise<void> {
  const stack = await openRoomStack();
  t.teardown(() => stack.close());
  const room = remoteRoom();
  const streams: Readable[] = [];
  const err = await t.throwsAsync(maker(stack, room, { ...delivery, streams }).join(joiner, roomId, [REMOTE], {}), { instanceOf: MatrixError });
  t.is(err?.status, 404);
  t.is(err?.errcode, 'M_NOT_FOUND');
  t.regex(err?.message ?? '', message);
  t.not(await stack.engine.membershipOf(joiner, roomId), 'join');
  t.is(stack.engine.room(roomId), undefined, 'the room is not adopted from a failed answer');
  t.true(streams.every((s) => s.destroyed), 'the answer stream is let go');
  // And a retry with a good answer joins.
  const joinId = await maker(stack, room, { chunkBytes: 100 }).join(joiner, roomId, [REMOTE], {});
  await joinedWithState(t, stack, room, joinId);
}

test('an element larger than the cap fails the join cleanly, without reading on', async (t) => {
  const huge = JSON.stringify({ type: 'm.room.member', content: { junk: 'x'.repeat(MAX_SEND_JOIN_EVENT_BYTES) } });
  await failsCleanly(t, { chunkBytes: 4096, text: (w) => w.replace('"state":[', `"state":[${huge},`) }, /malformed send_join answer: an element of "state" \(index 0\) is larger than/);
});

test('a malformed answer fails the join cleanly', async (t) => {
  await failsCleanly(t, { chunkBytes: 50, text: (w) => w.slice(0, -40) }, /malformed send_join answer: the JSON ends before/);
});

test('trailing garbage after the answer fails the join cleanly', async (t) => {
  await failsCleanly(t, { chunkBytes: 50, text: (w) => `${w} {"state": []}` }, /more data after the top-level object/);
});

test('an answer without state, or with state that is not an array, fails the join cleanly', async (t) => {
  await failsCleanly(t, { text: (w) => w.replace('"state":', '"x.state":') }, /no state or auth_chain/);
  await failsCleanly(t, { text: () => '{"state": {"events": []}, "auth_chain": []}' }, /"state" is not an array/);
});

test('a transfer cut half way fails the join cleanly', async (t) => {
  await failsCleanly(t, { chunkBytes: 200, failAfterBytes: 1000 }, /connection reset/);
});

test('a create event that fails its checks ends the transfer at once', async (t) => {
  const stack = await openRoomStack();
  t.teardown(() => stack.close());
  const room = remoteRoom();
  const forged = { ...room.create.pdu, signatures: { [REMOTE]: { [remoteKey.keyId]: 'AAAA' } } };
  const streams: Readable[] = [];
  const text = (w: string) => w.replace(JSON.stringify(room.create.pdu), JSON.stringify(forged));
  await t.throwsAsync(maker(stack, room, { text, chunkBytes: 64, streams }).join(joiner, roomId, [REMOTE], {}), { message: /m\.room\.create refused: bad signature/ });
  t.true(streams[0]!.destroyed);
  t.is(stack.engine.room(roomId), undefined);
});
