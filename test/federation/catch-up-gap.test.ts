/**
 * Pulling what we missed (issue 12): a remote server's user sent 120 messages while we were away.
 * `RoomCatchUp` asks that server for the room's latest event (timestamp_to_event), fetches it and
 * hands it to the PDU handler, whose get_missing_events walk fills the whole gap, placed in order
 * (the scripted server answers like Synapse: at most `limit` events, the nearest to those asked
 * about). Asked again, nothing is fetched: the latest event is known.
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

test('a gap of 120 events is pulled from the latest event back to ours and placed in order', async (t) => {
  const stack = await openRoomStack();
  t.teardown(() => stack.close());
  const remoteEvents = new Map<string, Pdu>();
  const calls = { missing: 0, timestamp: 0, event: 0 };
  /** get_missing_events as Synapse answers it: walking back from `latest`, stopping at `earliest`, the nearest `limit`. */
  const missingEvents = async (_origin: string, _roomId: string, earliest: string[], latest: string[], limit: number): Promise<unknown[]> => {
    calls.missing++;
    const seen = new Set(earliest);
    const out: Pdu[] = [];
    let frontier = latest.flatMap((id) => (remoteEvents.get(id)?.prev_events as string[]) ?? []);
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
    return out.sort((a, b) => a.depth - b.depth);
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
      missingEvents,
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

  // Rob's 120 messages, a chain we never received.
  let prev = join.eventId;
  let depth = joinEvent.pdu.depth;
  const bodies: string[] = [];
  for (let i = 0; i < 120; i++) {
    const body = `rob #${i}`;
    const built = finalizePdu(
      { auth_events: auth, content: { msgtype: 'm.text', body }, depth: ++depth, origin_server_ts: Date.now(), prev_events: [prev], room_id: roomId, sender: rob, type: 'm.room.message' },
      { rules, serverName: REMOTE, key: remoteKey },
    );
    remoteEvents.set(built.eventId, built.pdu);
    bodies.push(body);
    prev = built.eventId;
  }
  const latestId = prev;

  const routing = new EventRouting(stack.engine, SERVER);
  const catchUp = new RoomCatchUp({
    engine: stack.engine,
    requests: {
      get: async (_server, path, query) => {
        if (path.includes('/timestamp_to_event/')) {
          calls.timestamp++;
          t.is(query?.dir, 'b');
          return { event_id: latestId, origin_server_ts: Date.now() };
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
    log,
  });

  t.deepEqual(await catchUp.pull(REMOTE), { server: REMOTE, rooms: 1, filled: 1, failed: 0 });
  const room = stack.engine.room(roomId)!;
  const timeline = await stack.engine.timeline(room.short, { from: Number.MIN_SAFE_INTEGER, dir: 'f', limit: 500 });
  const messages: string[] = [];
  for (const entry of timeline) {
    const event = await stack.engine.eventByShort(entry.eventShort);
    if (event?.pdu.type === 'm.room.message') messages.push(event.pdu.content.body as string);
  }
  t.deepEqual(messages, bodies, 'every message, in order');
  t.deepEqual(stack.engine.headOf(roomId)?.extremities, [latestId]);
  t.true(calls.missing >= 3, 'the gap took several get_missing_events calls of at most 50');

  // Already current: one question, nothing fetched.
  const before = { ...calls };
  t.deepEqual(await catchUp.pull(REMOTE), { server: REMOTE, rooms: 1, filled: 0, failed: 0 });
  t.is(calls.event, before.event);
  t.is(calls.missing, before.missing);
});
