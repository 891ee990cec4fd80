/**
 * Read-your-writes: once a send has answered, the sender's next /messages shows the event, even
 * while another write that reserved an earlier stream position is still in flight. Readers only
 * see the settled position (stream/notifier.ts), so without the wait in RoomEngine.sendEvent the
 * answer came first and the event stayed hidden for as long as the other write took; the fuzz
 * run's health check caught it on a loaded CI machine.
 */
import test from 'ava';
import { setImmediate as tick } from 'node:timers/promises';
import { StreamNotifier } from '../../src/stream/notifier.js';
import type { StoredEvent } from '../../src/rooms/engine.js';
import { call, openRoomStack } from '../helpers/room-stack.js';

const ALICE = '@alice:test.local';

test('a send answers only once its event is visible to /messages, after an earlier in-flight write settles', async (t) => {
  let notifier: StreamNotifier | undefined;
  const s = await openRoomStack(undefined, undefined, (parts) => {
    notifier = parts.notifier;
    return {};
  });
  t.teardown(() => s.close());
  const created = await call(s, 'POST', '/_matrix/client/v3/createRoom', ALICE, { preset: 'private_chat' });
  t.is(created.status, 200);
  const roomId = created.body.room_id as string;

  // Another room's batch is being written: it holds an earlier position.
  const inFlight = notifier!.reserve();
  const persisted: StoredEvent[] = [];
  s.engine.onEvent((e) => persisted.push(e));
  let answered = false;
  const send = call(s, 'PUT', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/t1`, ALICE, { msgtype: 'm.text', body: 'after the slow write' }).then((r) => {
    answered = true;
    return r;
  });
  while (persisted.length === 0) await tick();
  for (let i = 0; i < 20; i++) await tick();
  t.false(answered, 'the send waits while an earlier position is unsettled');
  t.true(notifier!.position < persisted[0]!.meta.stream, 'the event is stored but not yet readable');

  notifier!.settle(inFlight);
  const sent = await send;
  t.is(sent.status, 200);
  t.is(sent.body.event_id, persisted[0]!.event_id);
  const page = await call(s, 'GET', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/messages?dir=b&limit=5`, ALICE);
  t.is(page.status, 200);
  t.is(page.body.chunk[0]?.event_id, sent.body.event_id, 'the newest event of /messages is the one just sent');
  t.is(page.body.chunk[0]?.content.body, 'after the slow write');
});

test('waitUntilSettled: true once every position up to the target settles, false on timeout', async (t) => {
  const notifier = new StreamNotifier(10);
  const a = notifier.reserve();
  const b = notifier.reserve();
  notifier.settle(b);
  t.is(notifier.position, 10, 'b settled out of order: readers still stop before a');
  t.false(await notifier.waitUntilSettled(b, 20));
  const waiting = notifier.waitUntilSettled(b, 5_000);
  notifier.settle(a);
  t.true(await waiting);
  t.is(notifier.position, 12);
  t.true(await notifier.waitUntilSettled(5, 0), 'an already settled position answers at once');
});
