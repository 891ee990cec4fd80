/**
 * client-server "Filtering": a filter whose known fields have the wrong type is refused with 400
 * M_BAD_JSON, when uploaded (POST /user/{userId}/filter) and when given inline to /sync,
 * /messages and /context; unknown fields stay accepted (the spec allows extensions, and Synapse's
 * filter schema has `additionalProperties: true`).
 */
import test from 'ava';
import { startHarness } from '../accounts/harness.js';
import { call, openRoomStack } from '../helpers/room-stack.js';

const ALICE = '@alice:test.local';

/** Whole filters (as uploaded or given to /sync) with one known field of the wrong type. */
const BAD_FILTERS: Record<string, unknown> = {
  'lazy_load_members a string': { room: { state: { lazy_load_members: 'yes' } } },
  'include_redundant_members a number': { room: { state: { lazy_load_members: true, include_redundant_members: 1 } } },
  'limit a float': { room: { timeline: { limit: 1.5 } } },
  'limit a string': { room: { timeline: { limit: '10' } } },
  'types not a list': { room: { timeline: { types: 'm.room.message' } } },
  'types of numbers': { presence: { types: [1] } },
  'contains_url a string': { room: { timeline: { contains_url: 'true' } } },
  'unread_thread_notifications a number': { room: { timeline: { unread_thread_notifications: 1 } } },
  'include_leave a string': { room: { include_leave: 'true' } },
  'rooms not a list': { room: { rooms: '!a:test.local' } },
  'timeline not an object': { room: { timeline: [] } },
  'event_format unknown': { event_format: 'xml' },
  'event_fields of numbers': { event_fields: [1] },
  'room not an object': { room: 'all' },
};

/** A filter with fields the spec does not know, kept for forward compatibility. */
const EXTENDED = { 'org.example.top': 1, room: { 'org.example.room': 'x', timeline: { limit: 5, 'org.example.flag': 'yes' } } };

test('uploading a filter with a wrongly typed field is 400 M_BAD_JSON; unknown fields are accepted', async (t) => {
  const h = await startHarness();
  t.teardown(() => h.close());
  const me = await h.user('ada');
  for (const [why, filter] of Object.entries(BAD_FILTERS)) {
    const res = await h.call('POST', `/_matrix/client/v3/user/${me.userId}/filter`, { token: me.token, body: filter });
    t.is(res.status, 400, why);
    t.is(res.body.errcode, 'M_BAD_JSON', why);
  }
  const ok = await h.call('POST', `/_matrix/client/v3/user/${me.userId}/filter`, { token: me.token, body: EXTENDED });
  t.is(ok.status, 200, JSON.stringify(ok.body));
});

test('an inline /sync filter with a wrongly typed field is 400 M_BAD_JSON', async (t) => {
  const s = await openRoomStack();
  t.teardown(() => s.close());
  for (const [why, filter] of Object.entries(BAD_FILTERS)) {
    const res = await call(s, 'GET', `/_matrix/client/v3/sync?filter=${encodeURIComponent(JSON.stringify(filter))}`, ALICE);
    t.is(res.status, 400, why);
    t.is(res.body.errcode, 'M_BAD_JSON', why);
  }
  t.is((await call(s, 'GET', `/_matrix/client/v3/sync?filter=${encodeURIComponent(JSON.stringify(EXTENDED))}`, ALICE)).status, 200);
});

test('an inline RoomEventFilter of /messages and /context with a wrongly typed field is 400 M_BAD_JSON', async (t) => {
  const s = await openRoomStack();
  t.teardown(() => s.close());
  const roomId = (await call(s, 'POST', '/_matrix/client/v3/createRoom', ALICE, {})).body.room_id as string;
  const sent = await call(s, 'PUT', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/1`, ALICE, { msgtype: 'm.text', body: 'hi' });
  const room = encodeURIComponent(roomId);
  const bad: Record<string, unknown> = {
    'lazy_load_members a string': { lazy_load_members: 'true' },
    'include_redundant_members a string': { include_redundant_members: 'no' },
    'limit a float': { limit: 2.5 },
    'contains_url a number': { contains_url: 0 },
    'not_senders not a list': { not_senders: ALICE },
  };
  for (const [why, filter] of Object.entries(bad)) {
    const f = encodeURIComponent(JSON.stringify(filter));
    for (const url of [`/_matrix/client/v3/rooms/${room}/messages?dir=b&filter=${f}`, `/_matrix/client/v3/rooms/${room}/context/${encodeURIComponent(sent.body.event_id)}?filter=${f}`]) {
      const res = await call(s, 'GET', url, ALICE);
      t.is(res.status, 400, `${why}: ${url}`);
      t.is(res.body.errcode, 'M_BAD_JSON', `${why}: ${url}`);
    }
  }
  const extended = encodeURIComponent(JSON.stringify({ lazy_load_members: true, 'org.example.flag': 'yes' }));
  t.is((await call(s, 'GET', `/_matrix/client/v3/rooms/${room}/messages?dir=b&filter=${extended}`, ALICE)).status, 200);
});
