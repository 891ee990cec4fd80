/**
 * The durable federation sender (issue 12) against a real engine and LevelDB, with a scripted
 * destination: events go in order in transactions of at most 50; a destination more than 50
 * behind after failures gets the newest event per room only (catch-up), a burst while healthy
 * everything; a restart resumes from the saved position, sending again nothing acknowledged and
 * losing nothing that was not; durable EDUs survive a restart, stale typing is dropped; rooms
 * with `m.federate: false` never leave; the first transaction after start announces us.
 * Retries happen only when the test pokes (the backoff timers are inert), so nothing here
 * depends on time. `timestamp_to_event`, which servers coming back ask first, is served to
 * servers in the room.
 */
import test from 'ava';
import pino from 'pino';
import { finalizePdu } from '../../src/core/event-builder.js';
import { generateSigningKey } from '../../src/core/signing.js';
import { getRoomVersionRules } from '../../src/core/room-versions.js';
import type { JsonObject } from '../../src/core/types.js';
import { PduHandler } from '../../src/federation/receive/pdu-handler.js';
import { FederationSender } from '../../src/federation/send/sender.js';
import { FederationOutboxStore } from '../../src/storage/federation-outbox.js';
import { RoomReads } from '../../src/federation/serve/room-reads.js';
import { registerTimestampToEventRoute } from '../../src/federation/serve/timestamp-to-event.js';
import { createFederationServer } from '../../src/federation/transport/listener.js';
import { TimelineReader } from '../../src/rooms/timeline.js';
import { openRoomStack, SERVER, type RoomStack } from '../helpers/room-stack.js';

const REMOTE = 'remote.test';
const remoteKey = generateSigningKey();
const alice = `@alice:${SERVER}`;
const rob = `@rob:${REMOTE}`;
const log = pino({ level: 'silent' });

/** A destination that records every transaction and can be taken down. */
class FakeRemote {
  up = true;
  readonly txns: { destination: string; txnId: string; pdus: JsonObject[]; edus: JsonObject[] }[] = [];
  attempts = 0;

  async put(destination: string, path: string, body: unknown): Promise<unknown> {
    this.attempts++;
    if (!this.up) throw new Error('connect ECONNREFUSED');
    const b = body as { pdus: JsonObject[]; edus: JsonObject[] };
    this.txns.push({ destination, txnId: decodeURIComponent(path.split('/').pop()!), pdus: b.pdus, edus: b.edus });
    return { pdus: {} };
  }

  bodies(): string[] {
    return this.txns.flatMap((t) => t.pdus).filter((p) => p.type === 'm.room.message').map((p) => (p.content as { body: string }).body);
  }
}

/** Backoff timers that never fire: retries come from `wake`/`poke` only. */
const inertTimers = { setTimeout: () => ({}), clearTimeout: () => undefined };

function senderFor(stack: RoomStack, remote: FakeRemote): FederationSender {
  return new FederationSender({
    engine: stack.engine,
    requests: remote,
    store: new FederationOutboxStore(stack.db),
    serverName: SERVER,
    log,
    options: { timers: inertTimers },
  });
}

/** A public room of alice's that rob (of REMOTE) joined. */
async function roomWithRob(stack: RoomStack, extraCreate: JsonObject = {}): Promise<string> {
  const roomId = await stack.engine.createRoom('11', alice, extraCreate, [
    { type: 'm.room.member', sender: alice, state_key: alice, content: { membership: 'join' } },
    { type: 'm.room.power_levels', sender: alice, state_key: '', content: { users: { [alice]: 100 }, users_default: 0, state_default: 50, events_default: 0, ban: 50, kick: 50, redact: 50, invite: 0 } },
    { type: 'm.room.join_rules', sender: alice, state_key: '', content: { join_rule: 'public' } },
  ]);
  const handler = new PduHandler({
    engine: stack.engine,
    log,
    keys: { publicKey: async (server, keyId) => (server === REMOTE && keyId === remoteKey.keyId ? remoteKey.publicKey : server === SERVER && keyId === stack.key.keyId ? stack.key.publicKey : undefined) },
    remote: {
      event: async () => {
        throw new Error('404');
      },
      backfill: async () => [],
      missingEvents: async () => [],
      stateIds: async () => {
        throw new Error('none');
      },
    },
  });
  const { template } = await stack.engine.templateForRemote(roomId, { type: 'm.room.member', sender: rob, state_key: rob, content: { membership: 'join' } });
  const { pdu } = finalizePdu(template, { rules: getRoomVersionRules('11')!, serverName: REMOTE, key: remoteKey });
  const outcome = await handler.receive(REMOTE, pdu);
  if (outcome.status !== 'accepted') throw new Error(`rob's join: ${JSON.stringify(outcome)}`);
  return roomId;
}

async function say(stack: RoomStack, roomId: string, body: string): Promise<void> {
  await stack.engine.sendEvent(roomId, { type: 'm.room.message', sender: alice, content: { msgtype: 'm.text', body } });
}

async function eventually(what: string, probe: () => boolean | Promise<boolean>): Promise<void> {
  for (let i = 0; i < 2_000; i++) {
    if (await probe()) return;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`timed out waiting for ${what}`);
}

function range(prefix: string, n: number, from = 0): string[] {
  return Array.from({ length: n }, (_, i) => `${prefix}${from + i}`);
}

test('the first transaction announces us; a burst while healthy goes in order, at most 50 PDUs per transaction, nothing skipped', async (t) => {
  const stack = await openRoomStack();
  t.teardown(() => stack.close());
  const roomId = await roomWithRob(stack);
  const remote = new FakeRemote();
  const sender = senderFor(stack, remote);
  t.teardown(() => sender.stop());
  await sender.start();
  await eventually('the announcement', () => remote.txns.length === 1);
  t.deepEqual(remote.txns[0]!.pdus, [], 'an empty transaction: the peer resets its backoff for us');

  for (const body of range('m', 120)) await say(stack, roomId, body);
  await eventually('120 messages', () => remote.bodies().length >= 120);
  await sender.queue(REMOTE)!.idle();
  t.deepEqual(remote.bodies(), range('m', 120));
  t.true(remote.txns.every((txn) => txn.pdus.length <= 50));
  t.is(sender.status()[0]!.catchUps, 0);
  t.is(new Set(remote.txns.map((txn) => txn.txnId)).size, remote.txns.length, 'every transaction id is new');
});

test('more than 50 behind after failures: only the newest event per room, the peer pulls the rest; 30 behind: all in order', async (t) => {
  const stack = await openRoomStack();
  t.teardown(() => stack.close());
  const roomId = await roomWithRob(stack);
  const otherRoom = await roomWithRob(stack);
  const remote = new FakeRemote();
  const sender = senderFor(stack, remote);
  t.teardown(() => sender.stop());
  await sender.start();
  await eventually('the announcement', () => remote.txns.length === 1);

  remote.up = false;
  for (const body of range('a', 80)) await say(stack, roomId, body);
  await say(stack, otherRoom, 'other room');
  await eventually('a failed attempt', () => sender.status()[0]!.failures > 0);
  const queue = sender.queue(REMOTE)!;
  await queue.idle();
  remote.up = true;
  sender.wake(REMOTE);
  await eventually('the catch-up', () => remote.txns.length >= 2);
  await queue.idle();
  t.deepEqual(remote.bodies(), ['a79', 'other room'], 'the newest event of each room');
  t.is(sender.status()[0]!.catchUps, 1);
  t.is(queue.position, stack.engine.notifier.position);
  t.is(queue.consecutiveFailures, 0);

  // A smaller backlog after failures goes in order.
  remote.up = false;
  for (const body of range('b', 30)) await say(stack, roomId, body);
  await eventually('a failed attempt', () => queue.consecutiveFailures > 0);
  await queue.idle();
  remote.up = true;
  sender.wake(REMOTE);
  await eventually('30 messages', () => remote.bodies().length >= 32);
  t.deepEqual(remote.bodies().slice(2), range('b', 30));
});

test('a restart resumes from the saved position: what the peer acknowledged is not sent again, nothing queued is lost; the last event per room is saved', async (t) => {
  let stack = await openRoomStack();
  const { dir, key } = stack;
  t.teardown(() => stack.close());
  const roomId = await roomWithRob(stack);
  const remote = new FakeRemote();
  let sender = senderFor(stack, remote);
  const first = sender;
  t.teardown(() => first.stop());
  await sender.start();
  for (const body of range('before', 10)) await say(stack, roomId, body);
  await eventually('10 messages', () => remote.bodies().length === 10);
  await sender.queue(REMOTE)!.idle();

  remote.up = false;
  for (const body of range('queued', 20)) await say(stack, roomId, body);
  await eventually('a failed attempt', () => sender.status()[0]!.failures > 0);
  await sender.stop();
  await stack.close();

  // Back up: the same data directory, a new process.
  stack = await openRoomStack(dir, key);
  const store = new FederationOutboxStore(stack.db);
  t.is((await store.destination(REMOTE))?.failures, 1, 'the retry state survived');
  remote.up = true;
  sender = senderFor(stack, remote);
  t.teardown(() => sender.stop());
  await sender.start();
  await eventually('the 20 queued messages', () => remote.bodies().length >= 30);
  await sender.queue(REMOTE)!.idle();
  t.deepEqual(remote.bodies(), [...range('before', 10), ...range('queued', 20)], 'each once, in order');
  const room = stack.engine.room(roomId)!;
  const last = await stack.engine.timeline(room.short, { from: Number.MAX_SAFE_INTEGER, dir: 'b', limit: 1 });
  t.deepEqual(await store.roomsSent(REMOTE), new Map([[room.short, last[0]!.stream]]));
  t.is((await store.destination(REMOTE))?.failures, 0);
});

test('to-device EDUs wait on disk through a restart; typing is sent while fresh, dropped through a failure', async (t) => {
  let stack = await openRoomStack();
  const { dir, key } = stack;
  t.teardown(() => stack.close());
  await roomWithRob(stack);
  const remote = new FakeRemote();
  remote.up = false;
  let sender = senderFor(stack, remote);
  const first = sender;
  t.teardown(() => first.stop());
  await sender.start();
  await sender.enqueueEdu(REMOTE, { edu_type: 'm.direct_to_device', content: { sender: alice, type: 'm.test', message_id: 'm1', messages: {} } });
  await sender.enqueueEdu(REMOTE, { edu_type: 'm.typing', content: { room_id: '!r:x', user_id: alice, typing: true } });
  await eventually('a failed attempt', () => sender.status()[0]!.failures > 0);
  await sender.queue(REMOTE)!.idle();
  // Another attempt, still down: the typing notice went with it and is not kept.
  sender.wake(REMOTE);
  await eventually('a second failed attempt', () => sender.status()[0]!.failures > 1);
  await sender.queue(REMOTE)!.idle();
  t.is(sender.status()[0]!.outbox, 1);
  t.is(sender.status()[0]!.ephemeral, 0, 'typing is not kept through a failure');
  await sender.stop();
  await stack.close();

  stack = await openRoomStack(dir, key);
  remote.up = true;
  sender = senderFor(stack, remote);
  t.teardown(() => sender.stop());
  await sender.start();
  await eventually('the to-device message', () => remote.txns.some((txn) => txn.edus.length > 0));
  await sender.queue(REMOTE)!.idle();
  const edus = remote.txns.flatMap((txn) => txn.edus);
  t.deepEqual(edus.map((e) => e.edu_type), ['m.direct_to_device']);
  t.is(sender.status()[0]!.outbox, 0, 'deleted once acknowledged');
});

test('a room created with m.federate: false never leaves, whatever its members', async (t) => {
  const stack = await openRoomStack();
  t.teardown(() => stack.close());
  const shared = await roomWithRob(stack);
  const remote = new FakeRemote();
  const sender = senderFor(stack, remote);
  t.teardown(() => sender.stop());
  await sender.start();
  const sensors = await stack.engine.createRoom('11', alice, { 'm.federate': false }, [
    { type: 'm.room.member', sender: alice, state_key: alice, content: { membership: 'join' } },
  ]);
  await say(stack, sensors, 'reading');
  await say(stack, shared, 'chat');
  await eventually('the chat message', () => remote.bodies().includes('chat'));
  t.deepEqual(remote.bodies(), ['chat']);
  t.deepEqual(await sender.serversInRoom(sensors), []);
});

test('timestamp_to_event answers servers in the room with the event nearest the time; strangers 403, bad parameters 400, nothing before 404', async (t) => {
  const stack = await openRoomStack();
  t.teardown(() => stack.close());
  const roomId = await roomWithRob(stack);
  await say(stack, roomId, 'latest');
  const latest = (await stack.engine.timeline(stack.engine.room(roomId)!.short, { from: Number.MAX_SAFE_INTEGER, dir: 'b', limit: 1 }))[0]!;
  const latestEvent = (await stack.engine.eventByShort(latest.eventShort))!;
  const app = createFederationServer({ logger: log });
  t.teardown(() => app.close());
  registerTimestampToEventRoute(app, {
    originOf: async (req) => String(req.headers['x-test-origin']),
    reads: new RoomReads(stack.engine, SERVER),
    timeline: new TimelineReader(stack.engine),
    engine: stack.engine,
  });
  const ask = (origin: string, query: string) =>
    app.inject({ method: 'GET', url: `/_matrix/federation/v1/timestamp_to_event/${encodeURIComponent(roomId)}?${query}`, headers: { 'x-test-origin': origin } });

  const now = await ask(REMOTE, `ts=${Date.now() + 1000}&dir=b`);
  t.is(now.statusCode, 200);
  t.deepEqual(now.json(), { event_id: latestEvent.event_id, origin_server_ts: latestEvent.pdu.origin_server_ts });
  const none = await ask(REMOTE, 'ts=1&dir=b');
  t.is(none.statusCode, 404);
  t.is(none.json().errcode, 'M_NOT_FOUND');
  const stranger = await ask('stranger.test', `ts=${Date.now()}&dir=b`);
  t.is(stranger.statusCode, 403);
  t.is(stranger.json().errcode, 'M_FORBIDDEN');
  for (const query of ['dir=b', 'ts=abc&dir=b', `ts=${Date.now()}&dir=x`, `ts=${Date.now()}`]) {
    const bad = await ask(REMOTE, query);
    t.is(bad.statusCode, 400, query);
    t.is(bad.json().errcode, 'M_INVALID_PARAM', query);
  }
});
