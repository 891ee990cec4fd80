/**
 * Receiving PDUs (server-server "Checks performed on receipt of a PDU") against a real engine and
 * LevelDB: a remote server's user joins a room here and sends events signed with that server's
 * key; each bad input gets the treatment the spec asks for, and a fork is merged by state
 * resolution into the current state clients see.
 */
import test from 'ava';
import pino from 'pino';
import { finalizePdu, type PduTemplate } from '../../src/core/event-builder.js';
import { generateSigningKey } from '../../src/core/signing.js';
import { getRoomVersionRules } from '../../src/core/room-versions.js';
import type { JsonObject, Pdu, RoomVersionId } from '../../src/core/types.js';
import { PduHandler } from '../../src/federation/receive/pdu-handler.js';
import { TransactionReceiver } from '../../src/federation/receive/transactions.js';
import { openRoomStack, SERVER, type RoomStack } from '../helpers/room-stack.js';

const REMOTE = 'remote.test';
const remoteKey = generateSigningKey();
const alice = `@alice:${SERVER}`;
const rob = `@rob:${REMOTE}`;

function handlerFor(stack: RoomStack, fetched: Map<string, Pdu> = new Map()): PduHandler {
  return new PduHandler({
    engine: stack.engine,
    log: pino({ level: 'silent' }),
    keys: {
      publicKey: async (server, keyId) => {
        if (server === REMOTE && keyId === remoteKey.keyId) return remoteKey.publicKey;
        if (server === SERVER && keyId === stack.key.keyId) return stack.key.publicKey;
        return undefined;
      },
    },
    remote: {
      event: async (_origin, eventId) => {
        const pdu = fetched.get(eventId);
        if (!pdu) throw new Error('404');
        return pdu;
      },
      backfill: async () => [],
      missingEvents: async () => [],
      stateIds: async () => {
        throw new Error('no state_ids here');
      },
    },
  });
}

/** An event of the remote server, built on the given prev events with the given auth events. */
function remoteEvent(version: RoomVersionId, roomId: string, fields: { type: string; sender?: string; state_key?: string; content: JsonObject; prev: string[]; auth: string[]; depth: number }): { pdu: Pdu; eventId: string } {
  const rules = getRoomVersionRules(version)!;
  const template: PduTemplate = {
    auth_events: fields.auth,
    content: fields.content,
    depth: fields.depth,
    origin_server_ts: Date.now(),
    prev_events: fields.prev,
    room_id: roomId,
    sender: fields.sender ?? rob,
    type: fields.type,
    ...(fields.state_key !== undefined ? { state_key: fields.state_key } : {}),
  };
  return finalizePdu(template, { rules, serverName: REMOTE, key: remoteKey });
}

async function publicRoomWithRob(stack: RoomStack, handler: PduHandler, version: RoomVersionId = '11') {
  const roomId = await stack.engine.createRoom(version, alice, {}, [
    { type: 'm.room.member', sender: alice, state_key: alice, content: { membership: 'join' } },
    { type: 'm.room.power_levels', sender: alice, state_key: '', content: { users: { [alice]: 100 }, users_default: 0, state_default: 50, events_default: 0, ban: 50, kick: 50, redact: 50, invite: 0 } },
    { type: 'm.room.join_rules', sender: alice, state_key: '', content: { join_rule: 'public' } },
  ]);
  const { template } = await stack.engine.templateForRemote(roomId, { type: 'm.room.member', sender: rob, state_key: rob, content: { membership: 'join' } });
  const { pdu, eventId } = finalizePdu(template, { rules: getRoomVersionRules(version)!, serverName: REMOTE, key: remoteKey });
  const outcome = await handler.receive(REMOTE, pdu);
  return { roomId, joinId: eventId, joinPdu: pdu, outcome };
}

async function authIds(stack: RoomStack, roomId: string, keys: [string, string][]): Promise<string[]> {
  const out: string[] = [];
  for (const [type, key] of keys) {
    const event = await stack.engine.stateEvent(roomId, type, key);
    if (event) out.push(event.event_id);
  }
  return out;
}

test('a remote join built on our template is accepted and becomes current state', async (t) => {
  const stack = await openRoomStack();
  t.teardown(() => stack.close());
  const handler = handlerFor(stack);
  const { roomId, joinId, outcome } = await publicRoomWithRob(stack, handler);
  t.deepEqual(outcome, { eventId: joinId, status: 'accepted' });
  t.is((await stack.engine.stateEvent(roomId, 'm.room.member', rob))?.event_id, joinId);
  t.is(await stack.engine.membershipOf(rob, roomId), 'join');
  t.deepEqual(stack.engine.headOf(roomId)?.extremities, [joinId]);
  // The same PDU again is known, not stored twice.
  t.is((await handler.receive(REMOTE, (await stack.engine.getEvent(joinId))!.pdu)).status, 'known');
});

test('bad signatures are dropped, bad content hashes stored redacted, auth failures rejected and never shown', async (t) => {
  const stack = await openRoomStack();
  t.teardown(() => stack.close());
  const handler = handlerFor(stack);
  const { roomId, joinId } = await publicRoomWithRob(stack, handler);
  const auth = await authIds(stack, roomId, [['m.room.create', ''], ['m.room.power_levels', ''], ['m.room.member', rob]]);

  // Signed by a key the remote server does not have: dropped, nothing stored.
  const forged = finalizePdu(
    { auth_events: auth, content: { msgtype: 'm.text', body: 'forged' }, depth: 10, origin_server_ts: Date.now(), prev_events: [joinId], room_id: roomId, sender: rob, type: 'm.room.message' },
    { rules: getRoomVersionRules('11')!, serverName: REMOTE, key: generateSigningKey() },
  );
  const dropped = await handler.receive(REMOTE, forged.pdu);
  t.is(dropped.status, 'dropped');
  t.regex(dropped.error ?? '', /signature/);
  t.is(await stack.engine.getEvent(forged.eventId), undefined);

  // Content changed after hashing: the signature (over the redacted form) holds, the hash does not.
  const message = remoteEvent('11', roomId, { type: 'm.room.message', content: { msgtype: 'm.text', body: 'original' }, prev: [joinId], auth, depth: 10 });
  const tampered = { ...message.pdu, content: { msgtype: 'm.text', body: 'tampered' } };
  t.is((await handler.receive(REMOTE, tampered)).status, 'accepted');
  const stored = await stack.engine.getEvent(message.eventId);
  t.deepEqual(stored?.pdu.content, {}, 'kept in its redacted form');

  // Rob (power 0) changes the power levels (state_default 50): rejected, not current state.
  const grab = remoteEvent('11', roomId, { type: 'm.room.power_levels', state_key: '', content: { users: { [rob]: 100 } }, prev: [message.eventId], auth, depth: 11 });
  const rejected = await handler.receive(REMOTE, grab.pdu);
  t.is(rejected.status, 'rejected');
  t.is((await stack.engine.getEvent(grab.eventId))?.meta.status, 'rejected');
  t.not((await stack.engine.stateEvent(roomId, 'm.room.power_levels', ''))?.event_id, grab.eventId);
  const timeline = await stack.engine.timeline(stack.engine.room(roomId)!.short, { from: Number.MAX_SAFE_INTEGER, dir: 'b', limit: 50 });
  const shorts = new Set(timeline.map((e) => e.eventShort));
  t.false(shorts.has((await stack.engine.getEvent(grab.eventId))!.short), 'a rejected event is not in the timeline');
});

test('an event allowed before it but not by the current state is soft-failed: stored, not shown, not an extremity', async (t) => {
  const stack = await openRoomStack();
  t.teardown(() => stack.close());
  const handler = handlerFor(stack);
  const { roomId, joinId } = await publicRoomWithRob(stack, handler);
  const auth = await authIds(stack, roomId, [['m.room.create', ''], ['m.room.power_levels', ''], ['m.room.member', rob]]);
  await stack.engine.sendEvent(roomId, { type: 'm.room.member', sender: alice, state_key: rob, content: { membership: 'ban' } });
  // Rob's server had not seen the ban: its message names the join as prev event.
  const late = remoteEvent('11', roomId, { type: 'm.room.message', content: { msgtype: 'm.text', body: 'after the ban' }, prev: [joinId], auth, depth: 10 });
  const outcome = await handler.receive(REMOTE, late.pdu);
  t.is(outcome.status, 'soft_failed');
  const stored = await stack.engine.getEvent(late.eventId);
  t.is(stored?.meta.status, 'soft_failed');
  t.false(stack.engine.headOf(roomId)!.extremities.includes(late.eventId));
  t.is(await stack.engine.membershipOf(rob, roomId), 'ban');
});

test('a fork is merged by state resolution: both branches become extremities and current state is the resolution', async (t) => {
  const stack = await openRoomStack();
  t.teardown(() => stack.close());
  const handler = handlerFor(stack);
  const { roomId, joinId } = await publicRoomWithRob(stack, handler);
  // Alice gives Rob the power to set the topic.
  const levels = (await stack.engine.stateEvent(roomId, 'm.room.power_levels', ''))!.pdu.content;
  await stack.engine.sendEvent(roomId, { type: 'm.room.power_levels', sender: alice, state_key: '', content: { ...levels, users: { [alice]: 100, [rob]: 50 } } });
  const afterPower = stack.engine.headOf(roomId)!.extremities[0]!;
  const auth = await authIds(stack, roomId, [['m.room.create', ''], ['m.room.power_levels', ''], ['m.room.member', rob]]);
  // Alice sends a message (the head moves on); Rob's topic names the power change as prev: a fork.
  await stack.engine.sendEvent(roomId, { type: 'm.room.message', sender: alice, content: { msgtype: 'm.text', body: 'meanwhile' } });
  const localHead = stack.engine.headOf(roomId)!.extremities[0]!;
  const topic = remoteEvent('11', roomId, { type: 'm.room.topic', state_key: '', content: { topic: 'from the fork' }, prev: [afterPower], auth, depth: 20 });
  t.is((await handler.receive(REMOTE, topic.pdu)).status, 'accepted');
  t.deepEqual(new Set(stack.engine.headOf(roomId)!.extremities), new Set([localHead, topic.eventId]));
  t.is((await stack.engine.stateEvent(roomId, 'm.room.topic', ''))?.pdu.content.topic, 'from the fork');
  t.is(await stack.engine.membershipOf(rob, roomId), 'join');
  t.is((await stack.engine.stateEvent(roomId, 'm.room.member', rob))?.event_id, joinId);
  // A local event now names both extremities and closes the fork.
  await stack.engine.sendEvent(roomId, { type: 'm.room.message', sender: alice, content: { msgtype: 'm.text', body: 'merged' } });
  t.is(stack.engine.headOf(roomId)!.extremities.length, 1);
});

test('one malformed or oversized PDU does not poison the rest of its transaction, and a transaction is answered once', async (t) => {
  const stack = await openRoomStack();
  t.teardown(() => stack.close());
  const handler = handlerFor(stack);
  const { roomId, joinId } = await publicRoomWithRob(stack, handler);
  const auth = await authIds(stack, roomId, [['m.room.create', ''], ['m.room.power_levels', ''], ['m.room.member', rob]]);
  const good = remoteEvent('11', roomId, { type: 'm.room.message', content: { msgtype: 'm.text', body: 'fine' }, prev: [joinId], auth, depth: 10 });
  const huge = remoteEvent('11', roomId, { type: 'm.room.message', content: { msgtype: 'm.text', body: 'x'.repeat(70_000) }, prev: [joinId], auth, depth: 10 });
  const receiver = new TransactionReceiver({ db: stack.db, pdus: handler, log: pino({ level: 'silent' }) });
  const answer = await receiver.receive(REMOTE, 'txn1', { pdus: [{ type: 42 }, huge.pdu, { ...good.pdu, depth: 1.5 }, good.pdu], edus: [] });
  t.deepEqual(answer, { pdus: { [good.eventId]: {} } });
  t.truthy(await stack.engine.getEvent(good.eventId));
  t.is(await stack.engine.getEvent(huge.eventId), undefined);
  // The same transaction id again: the first answer, nothing processed again.
  t.deepEqual(await receiver.receive(REMOTE, 'txn1', { pdus: [], edus: [] }), answer);
  await t.throwsAsync(receiver.receive(REMOTE, 'txn2', { pdus: new Array(51).fill(good.pdu) }), { message: /At most 50 PDUs/ });
});

test('a received redaction redacts when it applies (the sender\'s own server, or the redact level), and a received reaction is aggregated', async (t) => {
  const stack = await openRoomStack();
  t.teardown(() => stack.close());
  const handler = handlerFor(stack);
  const { roomId, joinId } = await publicRoomWithRob(stack, handler);
  const auth = await authIds(stack, roomId, [['m.room.create', ''], ['m.room.power_levels', ''], ['m.room.member', rob]]);
  const head = () => stack.engine.headOf(roomId)!.extremities;

  // Rob's own message, then his redaction of it: his server's event, so it applies (rooms/v3 "Handling redactions").
  const message = remoteEvent('11', roomId, { type: 'm.room.message', content: { msgtype: 'm.text', body: 'oops' }, prev: [joinId], auth, depth: 10 });
  t.is((await handler.receive(REMOTE, message.pdu)).status, 'accepted');
  const redaction = remoteEvent('11', roomId, { type: 'm.room.redaction', content: { redacts: message.eventId }, prev: [message.eventId], auth, depth: 11 });
  t.is((await handler.receive(REMOTE, redaction.pdu)).status, 'accepted');
  t.is((await stack.engine.getEvent(message.eventId))?.meta.redactedBy, redaction.eventId);

  // Alice's message: Rob (power 0, redact level 50) may send a redaction of it (the v11 auth rules
  // accept every redaction), but it does not apply: another server's sender without the level.
  const { eventId: alicesId } = await stack.engine.sendEvent(roomId, { type: 'm.room.message', sender: alice, content: { msgtype: 'm.text', body: 'mine' } });
  const foreign = remoteEvent('11', roomId, { type: 'm.room.redaction', content: { redacts: alicesId }, prev: head(), auth, depth: 20 });
  t.is((await handler.receive(REMOTE, foreign.pdu)).status, 'accepted');
  t.is((await stack.engine.getEvent(alicesId))?.meta.redactedBy, undefined, 'not applied');

  // Rob's reaction to Alice's message is indexed as her message's child, as a local one would be.
  const reaction = remoteEvent('11', roomId, {
    type: 'm.reaction',
    content: { 'm.relates_to': { rel_type: 'm.annotation', event_id: alicesId, key: '👍' } },
    prev: head(),
    auth,
    depth: 21,
  });
  t.is((await handler.receive(REMOTE, reaction.pdu)).status, 'accepted');
  const parent = (await stack.engine.getEvent(alicesId))!;
  const children = await stack.engine.relationChildren(parent.short, { dir: 'f' });
  t.deepEqual(children.map((c) => [c.relType, c.key, c.sender]), [['m.annotation', '👍', rob]]);
});

test('a redaction received before the event it redacts waits for it, across a restart, and redacts it on arrival when it applies', async (t) => {
  const stack = await openRoomStack();
  const handler = handlerFor(stack);
  const { roomId, joinId } = await publicRoomWithRob(stack, handler);
  const auth = await authIds(stack, roomId, [['m.room.create', ''], ['m.room.power_levels', ''], ['m.room.member', rob]]);

  // Two of Rob's messages on branches we have not seen, and redactions of them that do not descend
  // from them (a fork: his server redacts by id): ours arrive first.
  const own = remoteEvent('11', roomId, { type: 'm.room.message', content: { msgtype: 'm.text', body: 'oops' }, prev: [joinId], auth, depth: 10 });
  const redactOwn = remoteEvent('11', roomId, { type: 'm.room.redaction', content: { redacts: own.eventId, reason: 'typo' }, prev: [joinId], auth, depth: 10 });
  t.is((await handler.receive(REMOTE, redactOwn.pdu)).status, 'accepted');
  t.is(await stack.engine.getEvent(own.eventId), undefined, 'the target is not here yet');

  // Restarted in between: the waiting redaction is on disk, not only in memory.
  const dir = stack.dir;
  await stack.close();
  const reopened = await openRoomStack(dir, stack.key);
  t.teardown(() => reopened.close());
  const again = handlerFor(reopened);
  t.is((await again.receive(REMOTE, own.pdu)).status, 'accepted');
  const stored = (await reopened.engine.getEvent(own.eventId))!;
  t.is(stored.meta.redactedBy, redactOwn.eventId, 'redacted as it arrived');
  // What a client reads: no content, the redaction in unsigned.
  const res = await reopened.app.inject({ method: 'GET', url: `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/event/${encodeURIComponent(own.eventId)}`, headers: { authorization: `Bearer ${alice}|DEV1` } });
  t.is(res.statusCode, 200, res.body);
  const event = JSON.parse(res.body);
  t.deepEqual(event.content, {});
  t.is(event.unsigned.redacted_because.event_id, redactOwn.eventId);
});

test('a redaction that waits for its target does not apply when the rules say no (another server\'s event, no redact level)', async (t) => {
  const stack = await openRoomStack();
  t.teardown(() => stack.close());
  const handler = handlerFor(stack);
  const { roomId, joinId } = await publicRoomWithRob(stack, handler);
  const robAuth = await authIds(stack, roomId, [['m.room.create', ''], ['m.room.power_levels', ''], ['m.room.member', rob]]);
  // A third server's user joins and sends a message Rob tries to redact before we have it.
  const carol = '@carol:third.test';
  const thirdKey = generateSigningKey();
  const rules = getRoomVersionRules('11')!;
  const { template } = await stack.engine.templateForRemote(roomId, { type: 'm.room.member', sender: carol, state_key: carol, content: { membership: 'join' } });
  const carolJoin = finalizePdu(template, { rules, serverName: 'third.test', key: thirdKey });
  const thirdHandler = new PduHandler({
    engine: stack.engine,
    log: pino({ level: 'silent' }),
    keys: { publicKey: async (server, keyId) => (server === 'third.test' && keyId === thirdKey.keyId ? thirdKey.publicKey : server === REMOTE && keyId === remoteKey.keyId ? remoteKey.publicKey : server === SERVER && keyId === stack.key.keyId ? stack.key.publicKey : undefined) },
    remote: { event: async () => { throw new Error('404'); }, backfill: async () => [], missingEvents: async () => [], stateIds: async () => { throw new Error('none'); } },
  });
  t.is((await thirdHandler.receive('third.test', carolJoin.pdu)).status, 'accepted');
  const carolAuth = await authIds(stack, roomId, [['m.room.create', ''], ['m.room.power_levels', ''], ['m.room.member', carol]]);
  const carols = finalizePdu(
    { auth_events: carolAuth, content: { msgtype: 'm.text', body: 'mine' }, depth: 12, origin_server_ts: Date.now(), prev_events: [carolJoin.eventId], room_id: roomId, sender: carol, type: 'm.room.message' },
    { rules, serverName: 'third.test', key: thirdKey },
  );
  const foreign = remoteEvent('11', roomId, { type: 'm.room.redaction', content: { redacts: carols.eventId }, prev: [joinId, carolJoin.eventId], auth: robAuth, depth: 13 });
  t.is((await handler.receive(REMOTE, foreign.pdu)).status, 'accepted');
  t.is((await thirdHandler.receive('third.test', carols.pdu)).status, 'accepted');
  t.is((await stack.engine.getEvent(carols.eventId))?.meta.redactedBy, undefined, 'not applied: Rob has no redact level and another server sent it');
});
