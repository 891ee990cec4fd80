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
import type { FederationRequests } from '../../src/federation/requests.js';
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

function maker(stack: RoomStack, room: ReturnType<typeof remoteRoom>): RemoteMembershipMaker {
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
      if (!path.includes('/send_join/')) throw new Error(`unexpected PUT ${path}`);
      const pdus = room.all.map((e) => e.pdu as unknown as JsonObject);
      return { state: pdus, auth_chain: pdus.slice(0, 4), origin: REMOTE };
    },
    post: async () => {
      throw new Error('unexpected POST');
    },
  };
  return new RemoteMembershipMaker({ engine: stack.engine, requests, pdus, serverName: SERVER, signingKey: stack.key, log });
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


