/**
 * Pulling what we missed (issue 12): a remote server's user sent 120 (then 2,500) messages while
 * we were away. `RoomCatchUp` asks that server for the room's forward extremities (the
 * prev_events of a make_join template; its latest event by timestamp_to_event when it refuses),
 * fetches each one we lack and hands it to the PDU handler, whose walk fills the whole gap, placed in order: a
 * short gap with get_missing_events, a long one going on with /backfill, its events stored as
 * outliers as they come (the scripted server answers like Synapse: get_missing_events at most 20
 * events, the nearest to those asked about; /backfill at most 100, the given events and those
 * before them). Asked again, nothing is fetched: the latest event is known.
 */
import test from 'ava';
import pino from 'pino';
import { finalizePdu } from '../../src/core/event-builder.js';
import { generateSigningKey } from '../../src/core/signing.js';
import { getRoomVersionRules } from '../../src/core/room-versions.js';
import type { Pdu } from '../../src/core/types.js';
import { RoomCatchUp } from '../../src/federation/catchup/room-catch-up.js';
import { PduHandler } from '../../src/federation/receive/pdu-handler.js';
import { EventRouting } from '../../src/federation/send/routing.js';
import { openRoomStack, SERVER } from '../helpers/room-stack.js';

const REMOTE = 'remote.test';
const remoteKey = generateSigningKey();
const alice = `@alice:${SERVER}`;
const rob = `@rob:${REMOTE}`;
const log = pino({ level: 'silent' });
const rules = getRoomVersionRules('11')!;

interface GapRun {
  messages: string[];
  bodies: string[];
  extremities: string[] | undefined;
  latestId: string;
  /** Alice's own messages sent after the fork (the remote has them too). */
  ours: string[];
  calls: { missing: number; backfill: number; timestamp: number; event: number; makeJoin: number };
  pullAgain: () => Promise<unknown>;
}

interface GapOptions {
  /** Alice's messages after Rob's join, sent here while Rob's branch grew apart from them (a partition). */
  fork?: number;
  /** How the remote answers make_join: with its extremities, refused (403), or never asked (no joined user of ours). */
  makeJoin?: 'answers' | 'refuses' | 'no local member' | 'malformed';
}

/** A room Rob joined, then `count` messages of his we never received, pulled by a RoomCatchUp. */
async function pullGap(t: import('ava').ExecutionContext, count: number, opts: GapOptions = {}): Promise<GapRun> {
  const stack = await openRoomStack();
  t.teardown(() => stack.close());
  const remoteEvents = new Map<string, Pdu>();
  const calls = { missing: 0, backfill: 0, timestamp: 0, event: 0, makeJoin: 0 };
  /** Breadth-first from `from` (included or not), newest first, skipping `stop`, at most `limit`. */
  const walkBack = (from: string[], includeFrom: boolean, stop: Set<string>, limit: number): Pdu[] => {
    const seen = new Set(stop);
    const out: Pdu[] = [];
    let frontier = includeFrom ? from : from.flatMap((id) => (remoteEvents.get(id)?.prev_events as string[]) ?? []);
    while (frontier.length > 0 && out.length < limit) {
      const next: string[] = [];
      for (const id of frontier) {
        if (seen.has(id) || out.length >= limit) continue;
        seen.add(id);
        const pdu = remoteEvents.get(id);
        if (!pdu) continue;
        out.push(pdu);
        next.push(...(pdu.prev_events as string[]));
      }
      frontier = next;
    }
    return out;
  };
  const handler = new PduHandler({
    engine: stack.engine,
    log,
    keys: { publicKey: async (server, keyId) => (server === REMOTE && keyId === remoteKey.keyId ? remoteKey.publicKey : server === SERVER && keyId === stack.key.keyId ? stack.key.publicKey : undefined) },
    remote: {
      event: async (_origin, eventId) => {
        const pdu = remoteEvents.get(eventId);
        if (!pdu) throw new Error('404');
        return pdu;
      },
      missingEvents: async (_origin, _roomId, earliest, latest, limit) => {
        calls.missing++;
        return walkBack(latest, false, new Set(earliest), Math.min(limit, 20)).sort((a, b) => a.depth - b.depth);
      },
      backfill: async (_origin, _roomId, from, limit) => {
        calls.backfill++;
        // Synapse's backfill does not know where the asker's history ends: it overshoots into it.
        return walkBack(from, true, new Set(), Math.min(limit, 100));
      },
      stateIds: async () => {
        throw new Error('the gap should be filled without state_ids');
      },
    },
  });

  const roomId = await stack.engine.createRoom('11', alice, {}, [
    { type: 'm.room.member', sender: alice, state_key: alice, content: { membership: 'join' } },
    { type: 'm.room.power_levels', sender: alice, state_key: '', content: { users: { [alice]: 100 }, users_default: 0, events_default: 0, state_default: 50, ban: 50, kick: 50, redact: 50, invite: 0 } },
    { type: 'm.room.join_rules', sender: alice, state_key: '', content: { join_rule: 'public' } },
  ]);
  const { template } = await stack.engine.templateForRemote(roomId, { type: 'm.room.member', sender: rob, state_key: rob, content: { membership: 'join' } });
  const join = finalizePdu(template, { rules, serverName: REMOTE, key: remoteKey });
  t.is((await handler.receive(REMOTE, join.pdu)).status, 'accepted');
  const joinEvent = (await stack.engine.getEvent(join.eventId))!;
  const auth = [(await stack.engine.stateEvent(roomId, 'm.room.create', ''))!.event_id, (await stack.engine.stateEvent(roomId, 'm.room.power_levels', ''))!.event_id, join.eventId];
  // The room's own events are on the remote server too (backfill reaches them).
  for (const id of auth) remoteEvents.set(id, (await stack.engine.getEvent(id))!.pdu);

  // Rob's messages, a chain we never received.
  let prev = join.eventId;
  let depth = joinEvent.pdu.depth;
  const bodies: string[] = [];
  // Older than anything Alice sends below: after a partition the remote's newest event by time
  // can be one of ours while its own branch is still unknown to us.
  const robTs = Date.now() - 3_600_000;
  for (let i = 0; i < count; i++) {
    const body = `rob #${i}`;
    const built = finalizePdu(
      { auth_events: auth, content: { msgtype: 'm.text', body }, depth: ++depth, origin_server_ts: robTs + i, prev_events: [prev], room_id: roomId, sender: rob, type: 'm.room.message' },
      { rules, serverName: REMOTE, key: remoteKey },
    );
    remoteEvents.set(built.eventId, built.pdu);
    bodies.push(body);
    prev = built.eventId;
  }
  const latestId = prev;
  // Alice's side of a partition: her messages, which the remote got from us (it pulled them).
  const ours: string[] = [];
  let ourLatest: string | undefined;
  for (let i = 0; i < (opts.fork ?? 0); i++) {
    const sent = await stack.engine.sendEvent(roomId, { type: 'm.room.message', sender: alice, content: { msgtype: 'm.text', body: `alice #${i}` } });
    remoteEvents.set(sent.eventId, (await stack.engine.getEvent(sent.eventId))!.pdu);
    ours.push(`alice #${i}`);
    ourLatest = sent.eventId;
  }
  const remoteHeads = ourLatest ? [latestId, ourLatest] : [latestId];
  const newestByTime = remoteHeads.reduce((a, b) => (remoteEvents.get(b)!.origin_server_ts > remoteEvents.get(a)!.origin_server_ts ? b : a));

  const routing = new EventRouting(stack.engine, SERVER);
  const catchUp = new RoomCatchUp({
    engine: stack.engine,
    requests: {
      get: async (_server, path, query) => {
        if (path.includes('/make_join/')) {
          calls.makeJoin++;
          t.is(decodeURIComponent(path.split('/').pop()!), alice, 'the template is asked for our joined user');
          t.true(Array.isArray(query?.ver) && query.ver.includes('11'), 'with the room versions we speak');
          if (opts.makeJoin === 'refuses') throw Object.assign(new Error('403 M_FORBIDDEN'), { status: 403 });
          // A hostile or broken peer: nothing in prev_events names an event.
          if (opts.makeJoin === 'malformed') return { room_version: '11', event: { prev_events: [42, null, 'not-an-event-id', '$with\u0000nul', { id: latestId }] } };
          return { room_version: '11', event: { type: 'm.room.member', state_key: alice, sender: alice, content: { membership: 'join' }, prev_events: remoteHeads } };
        }
        if (path.includes('/timestamp_to_event/')) {
          calls.timestamp++;
          t.is(query?.dir, 'b');
          return { event_id: newestByTime, origin_server_ts: Date.now() };
        }
        if (path.includes('/event/')) {
          calls.event++;
          return { origin: REMOTE, origin_server_ts: Date.now(), pdus: [remoteEvents.get(decodeURIComponent(path.split('/').pop()!))] };
        }
        throw new Error(`unexpected ${path}`);
      },
    },
    receive: (origin, pdu) => handler.receive(origin, pdu),
    serversInRoom: (id) => routing.serversInRoom(id),
    localJoinedMember: async () => (opts.makeJoin === 'no local member' ? undefined : alice),
    log,
  });

  t.deepEqual(await catchUp.pull(REMOTE), { server: REMOTE, rooms: 1, filled: 1, failed: 0 });
  const room = stack.engine.room(roomId)!;
  const timeline = await stack.engine.timeline(room.short, { from: Number.MIN_SAFE_INTEGER, dir: 'f', limit: count + 100 });
  const messages: string[] = [];
  for (const entry of timeline) {
    const event = await stack.engine.eventByShort(entry.eventShort);
    if (event?.pdu.type === 'm.room.message') messages.push(event.pdu.content.body as string);
  }
  return { messages, bodies, ours, extremities: stack.engine.headOf(roomId)?.extremities, latestId, calls, pullAgain: () => catchUp.pull(REMOTE) };
}

test('a gap of 120 events is pulled from the latest event back to ours and placed in order', async (t) => {
  const run = await pullGap(t, 120);
  t.deepEqual(run.messages, run.bodies, 'every message, in order');
  t.deepEqual(run.extremities, [run.latestId]);
  t.true(run.calls.missing >= 3, 'the gap took several get_missing_events calls of at most 20');

  // Already current: one question, nothing fetched.
  const before = { ...run.calls };
  t.deepEqual(await run.pullAgain(), { server: REMOTE, rooms: 1, filled: 0, failed: 0 });
  t.is(run.calls.event, before.event);
  t.is(run.calls.missing, before.missing);
  t.is(run.calls.backfill, before.backfill);
});

test('a gap of 2,500 events (days offline in a busy room) is walked on with /backfill and placed whole, in order: no hole', async (t) => {
  const run = await pullGap(t, 2500);
  t.is(run.messages.length, 2500);
  t.deepEqual(run.messages, run.bodies, 'every message, in order');
  t.deepEqual(run.extremities, [run.latestId]);
  t.true(run.calls.missing <= 6, `a few get_missing_events calls first (${run.calls.missing})`);
  t.true(run.calls.backfill >= 24 && run.calls.backfill <= 30, `then /backfill, 100 a call (${run.calls.backfill})`);
});

test('after a partition: the remote\'s newest event is ours, its own branch is found through its extremities and pulled whole', async (t) => {
  const run = await pullGap(t, 60, { fork: 5 });
  t.is(run.calls.makeJoin, 1);
  t.is(run.calls.timestamp, 0, 'the make_join template named the extremities');
  t.deepEqual([...run.messages].sort(), [...run.bodies, ...run.ours].sort(), 'both branches, nothing missing');
  t.deepEqual(run.messages.filter((m) => m.startsWith('rob')), run.bodies, 'the remote branch in order');
  t.true(run.extremities!.includes(run.latestId), 'the remote branch\'s head is a forward extremity here');
});

test('a peer that refuses the make_join is asked for its latest event instead (and one we have no member for is not asked)', async (t) => {
  const refused = await pullGap(t, 30, { makeJoin: 'refuses' });
  t.is(refused.calls.makeJoin, 1);
  t.is(refused.calls.timestamp, 1);
  t.deepEqual(refused.messages, refused.bodies);
  const unasked = await pullGap(t, 30, { makeJoin: 'no local member' });
  t.is(unasked.calls.makeJoin, 0);
  t.is(unasked.calls.timestamp, 1);
  t.deepEqual(unasked.messages, unasked.bodies);
});

test('a make_join answer whose prev_events name no event is not followed: the latest event is asked for instead', async (t) => {
  const run = await pullGap(t, 30, { makeJoin: 'malformed' });
  t.is(run.calls.makeJoin, 1);
  t.is(run.calls.timestamp, 1, 'fell back to timestamp_to_event');
  t.deepEqual(run.messages, run.bodies, 'the gap filled from the latest event');
});
