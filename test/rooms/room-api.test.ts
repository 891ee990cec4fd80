import test from 'ava';
import { call, openRoomStack } from '../helpers/room-stack.js';

const ALICE = '@alice:test.local';
const BOB = '@bob:test.local';


for (const version of ['10', '11', '12']) {
  test(`v${version}: create, invite, join, send, sync, paginate, redact`, async (t) => {
    const s = await openRoomStack();
    t.teardown(() => s.close());
    const created = await call(s, 'POST', '/_matrix/client/v3/createRoom', ALICE, {
      name: 'Kitchen',
      topic: 'Sensors',
      room_version: version,
      invite: [BOB],
    });
    t.is(created.status, 200, JSON.stringify(created.body));
    const roomId = created.body.room_id as string;
    if (version === '12') t.regex(roomId, /^![A-Za-z0-9_-]{43}$/);
    else t.regex(roomId, /^![A-Za-z]+:test\.local$/);

    const bobInitial = await call(s, 'GET', '/_matrix/client/v3/sync', BOB);
    t.truthy(bobInitial.body.rooms.invite[roomId], 'bob sees the invite');
    const inviteState = bobInitial.body.rooms.invite[roomId].invite_state.events as { type: string; content: { name?: string } }[];
    t.is(inviteState.find((e) => e.type === 'm.room.name')?.content.name, 'Kitchen');

    t.is((await call(s, 'POST', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/join`, BOB, {})).status, 200);
    const sent: string[] = [];
    for (let i = 0; i < 15; i++) {
      const r = await call(s, 'PUT', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/t${i}`, ALICE, {
        msgtype: 'm.text',
        body: `hello ${i}`,
      });
      t.is(r.status, 200);
      sent.push(r.body.event_id);
    }
    // Idempotent by transaction id.
    const again = await call(s, 'PUT', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/t3`, ALICE, {
      msgtype: 'm.text',
      body: 'different',
    });
    t.is(again.body.event_id, sent[3]);

    const next = bobInitial.body.next_batch as string;
    const inc = await call(s, 'GET', `/_matrix/client/v3/sync?since=${next}`, BOB);
    const room = inc.body.rooms.join[roomId];
    t.truthy(room);
    t.true(room.timeline.limited, 'more than 10 events since: limited');
    const bodies = room.timeline.events.filter((e: { type: string }) => e.type === 'm.room.message').map((e: { content: { body: string } }) => e.content.body);
    t.deepEqual(bodies, Array.from({ length: 10 }, (_, i) => `hello ${i + 5}`));

    // Back-paginate from prev_batch: the rest of the history, newest first.
    const msgs = await call(s, 'GET', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/messages?dir=b&limit=100&from=${room.timeline.prev_batch}`, BOB);
    const older = msgs.body.chunk.filter((e: { type: string }) => e.type === 'm.room.message').map((e: { content: { body: string } }) => e.content.body);
    t.deepEqual(older, ['hello 4', 'hello 3', 'hello 2', 'hello 1', 'hello 0']);
    t.is(msgs.body.chunk[msgs.body.chunk.length - 1].type, 'm.room.create');

    // Redaction strips content per the room version.
    const red = await call(s, 'PUT', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/redact/${encodeURIComponent(sent[0]!)}/r1`, ALICE, { reason: 'oops' });
    t.is(red.status, 200);
    const ev = await call(s, 'GET', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/event/${encodeURIComponent(sent[0]!)}`, BOB);
    t.deepEqual(ev.body.content, {});
    t.is(ev.body.unsigned.redacted_because.event_id, red.body.event_id);

    // Bob may not redact Alice's messages (no redact power).
    const refused = await call(s, 'PUT', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/redact/${encodeURIComponent(sent[1]!)}/r2`, BOB, {});
    t.is(refused.status, 403);
    t.is(refused.body.errcode, 'M_FORBIDDEN');

    // State round trip and power.
    t.is((await call(s, 'PUT', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/state/m.room.topic`, ALICE, { topic: 'New' })).status, 200);
    const topic = await call(s, 'GET', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/state/m.room.topic/`, BOB);
    t.deepEqual(topic.body, { topic: 'New' });
    const noPower = await call(s, 'PUT', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/state/m.room.name`, BOB, { name: 'x' });
    t.is(noPower.status, 403);
    t.is(noPower.body.errcode, 'M_FORBIDDEN');
  });
}

test('restart keeps events, state and sync tokens', async (t) => {
  let s = await openRoomStack();
  const { dir, key } = s;
  const created = await call(s, 'POST', '/_matrix/client/v3/createRoom', ALICE, { name: 'Persist' });
  const roomId = created.body.room_id as string;
  const first = await call(s, 'GET', '/_matrix/client/v3/sync', ALICE);
  await call(s, 'PUT', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/a`, ALICE, { msgtype: 'm.text', body: 'before' });
  await s.close();
  s = await openRoomStack(dir, key);
  t.teardown(() => s.close());
  const inc = await call(s, 'GET', `/_matrix/client/v3/sync?since=${first.body.next_batch}`, ALICE);
  const events = inc.body.rooms.join[roomId].timeline.events;
  t.deepEqual(events.map((e: { content: { body: string } }) => e.content.body), ['before']);
  t.is(events[0].unsigned.transaction_id, 'a');
  await call(s, 'PUT', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/b`, ALICE, { msgtype: 'm.text', body: 'after' });
  const inc2 = await call(s, 'GET', `/_matrix/client/v3/sync?since=${inc.body.next_batch}`, ALICE);
  t.deepEqual(inc2.body.rooms.join[roomId].timeline.events.map((e: { content: { body: string } }) => e.content.body), ['after']);
  const name = await call(s, 'GET', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/state/m.room.name`, ALICE);
  t.deepEqual(name.body, { name: 'Persist' });
});

test('long-poll sync wakes on a new event', async (t) => {
  const s = await openRoomStack();
  t.teardown(() => s.close());
  const roomId = (await call(s, 'POST', '/_matrix/client/v3/createRoom', ALICE, {})).body.room_id as string;
  const first = await call(s, 'GET', '/_matrix/client/v3/sync', ALICE);
  const poll = call(s, 'GET', `/_matrix/client/v3/sync?timeout=10000&since=${first.body.next_batch}`, ALICE);
  await new Promise((r) => setTimeout(r, 50));
  const started = Date.now();
  await call(s, 'PUT', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/x`, ALICE, { msgtype: 'm.text', body: 'wake' });
  const res = await poll;
  t.true(Date.now() - started < 5000);
  t.is(res.body.rooms.join[roomId].timeline.events[0].content.body, 'wake');
});

test('bad input gets Matrix errors', async (t) => {
  const s = await openRoomStack();
  t.teardown(() => s.close());
  const roomId = (await call(s, 'POST', '/_matrix/client/v3/createRoom', ALICE, {})).body.room_id as string;
  const notJson = await call(s, 'PUT', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/1`, ALICE, '{not json');
  t.is(notJson.status, 400);
  t.is(notJson.body.errcode, 'M_NOT_JSON');
  const arr = await call(s, 'PUT', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/2`, ALICE, [1, 2]);
  t.is(arr.body.errcode, 'M_BAD_JSON');
  const big = await call(s, 'PUT', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/3`, ALICE, { body: 'x'.repeat(70000) });
  t.is(big.status, 413);
  t.is(big.body.errcode, 'M_TOO_LARGE');
  const outsider = await call(s, 'PUT', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/4`, BOB, { body: 'hi' });
  t.is(outsider.status, 403);
  t.is(outsider.body.errcode, 'M_FORBIDDEN');
  const unknown = await call(s, 'GET', '/_matrix/client/v3/nonsense', ALICE);
  t.is(unknown.status, 404);
  t.is(unknown.body.errcode, 'M_UNRECOGNIZED');
  const wrongMethod = await call(s, 'DELETE', '/_matrix/client/v3/createRoom', ALICE);
  t.is(wrongMethod.status, 405);
  t.is(wrongMethod.body.errcode, 'M_UNRECOGNIZED');
  const noToken = await call(s, 'GET', '/_matrix/client/v3/joined_rooms', undefined);
  t.is(noToken.status, 401);
  // Still serving.
  t.is((await call(s, 'GET', '/_matrix/client/v3/joined_rooms', ALICE)).body.joined_rooms[0], roomId);
});

test('the same state content set again by the same sender returns the event that is there and creates nothing (as Synapse)', async (t) => {
  const s = await openRoomStack();
  t.teardown(() => s.close());
  const created = await call(s, 'POST', '/_matrix/client/v3/createRoom', ALICE, { invite: [BOB], power_level_content_override: { users: { [ALICE]: 100, [BOB]: 100 } } });
  const roomId = created.body.room_id as string;
  const room = encodeURIComponent(roomId);
  t.is((await call(s, 'POST', `/_matrix/client/v3/rooms/${room}/join`, BOB, {})).status, 200);
  const first = await call(s, 'PUT', `/_matrix/client/v3/rooms/${room}/state/m.room.topic/`, ALICE, { topic: 'Sensors' });
  const before = await call(s, 'GET', `/_matrix/client/v3/rooms/${room}/messages?dir=b&limit=100`, ALICE);
  const again = await call(s, 'PUT', `/_matrix/client/v3/rooms/${room}/state/m.room.topic/`, ALICE, { topic: 'Sensors' });
  t.is(again.status, 200);
  t.is(again.body.event_id, first.body.event_id, 'the existing event');
  const after = await call(s, 'GET', `/_matrix/client/v3/rooms/${room}/messages?dir=b&limit=100`, ALICE);
  t.is(after.body.chunk.length, before.body.chunk.length, 'nothing new in the timeline');
  // Another content, or the same content from another sender, is a new event.
  const changed = await call(s, 'PUT', `/_matrix/client/v3/rooms/${room}/state/m.room.topic/`, ALICE, { topic: 'Sensors!' });
  t.not(changed.body.event_id, first.body.event_id);
  const byBob = await call(s, 'PUT', `/_matrix/client/v3/rooms/${room}/state/m.room.topic/`, BOB, { topic: 'Sensors!' });
  t.is(byBob.status, 200);
  t.not(byBob.body.event_id, changed.body.event_id);
});

test('redacting an event of another room through this one is 400, as Synapse answers; an unknown event 404', async (t) => {
  const s = await openRoomStack();
  t.teardown(() => s.close());
  const kitchen = (await call(s, 'POST', '/_matrix/client/v3/createRoom', ALICE, {})).body.room_id as string;
  const garage = (await call(s, 'POST', '/_matrix/client/v3/createRoom', ALICE, {})).body.room_id as string;
  const sent = await call(s, 'PUT', `/_matrix/client/v3/rooms/${encodeURIComponent(garage)}/send/m.room.message/g1`, ALICE, { msgtype: 'm.text', body: 'in the garage' });
  const across = await call(s, 'PUT', `/_matrix/client/v3/rooms/${encodeURIComponent(kitchen)}/redact/${encodeURIComponent(sent.body.event_id)}/r1`, ALICE, {});
  t.is(across.status, 400);
  t.is(across.body.errcode, 'M_UNKNOWN');
  t.regex(across.body.error, /different room/);
  const unknown = await call(s, 'PUT', `/_matrix/client/v3/rooms/${encodeURIComponent(kitchen)}/redact/${encodeURIComponent('$nothing')}/r2`, ALICE, {});
  t.is(unknown.status, 404);
  const stillThere = await call(s, 'GET', `/_matrix/client/v3/rooms/${encodeURIComponent(garage)}/event/${encodeURIComponent(sent.body.event_id)}`, ALICE);
  t.is(stillThere.body.content.body, 'in the garage');
});

test('fuzzer findings stay fixed: a float in creation_content and a mistyped /messages or /context filter are 400 M_BAD_JSON, not 500', async (t) => {
  const s = await openRoomStack();
  t.teardown(() => s.close());
  const float = await call(s, 'POST', '/_matrix/client/v3/createRoom', ALICE, { room_version: '11', creation_content: { 'm.federate': false, k: 1.5 } });
  t.is(float.status, 400);
  t.is(float.body.errcode, 'M_BAD_JSON');
  const roomId = (await call(s, 'POST', '/_matrix/client/v3/createRoom', ALICE, {})).body.room_id as string;
  const room = encodeURIComponent(roomId);
  const sent = await call(s, 'PUT', `/_matrix/client/v3/rooms/${room}/send/m.room.message/f1`, ALICE, { msgtype: 'm.text', body: 'x' });
  for (const filter of [{ types: [true, true] }, { not_senders: 'alice' }, { limit: -1 }]) {
    const q = `filter=${encodeURIComponent(JSON.stringify(filter))}`;
    const messages = await call(s, 'GET', `/_matrix/client/v3/rooms/${room}/messages?dir=b&${q}`, ALICE);
    t.is(messages.status, 400, JSON.stringify(filter));
    t.is(messages.body.errcode, 'M_BAD_JSON');
    const context = await call(s, 'GET', `/_matrix/client/v3/rooms/${room}/context/${encodeURIComponent(sent.body.event_id)}?${q}`, ALICE);
    t.is(context.status, 400, JSON.stringify(filter));
  }
  const fine = await call(s, 'GET', `/_matrix/client/v3/rooms/${room}/messages?dir=b&filter=${encodeURIComponent(JSON.stringify({ types: ['m.room.message'] }))}`, ALICE);
  t.deepEqual(fine.body.chunk.map((e: { content: { body: string } }) => e.content.body), ['x']);
});
