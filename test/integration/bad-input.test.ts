/**
 * Bad input over real HTTP to the real process (issue 2, "Proof with real clients"): each kind of
 * mistake gets the status and errcode the Client-Server API names for it (client-server-api
 * "Standard error response" and "Common error codes"), and the server keeps serving afterwards.
 */
import test from 'ava';
import { startHearth, type HearthServer } from './helpers/server.js';
import { registerUser, request, sendText, type RegisteredUser } from './helpers/http.js';

let hearth: HearthServer;
let owner: RegisteredUser;
let member: RegisteredUser;
let outsider: RegisteredUser;
let roomId: string;

const enc = encodeURIComponent;
const sendPath = (room: string, txnId: string) => `/_matrix/client/v3/rooms/${enc(room)}/send/m.room.message/${txnId}`;

test.before(async () => {
  hearth = await startHearth();
  owner = await registerUser(hearth.baseUrl, 'owner', 'owner password');
  member = await registerUser(hearth.baseUrl, 'member', 'member password');
  outsider = await registerUser(hearth.baseUrl, 'outsider', 'outsider password');
  const created = await request(hearth.baseUrl, 'POST', '/_matrix/client/v3/createRoom', {
    token: owner.accessToken,
    json: { preset: 'private_chat', invite: [member.userId] },
  });
  if (created.status !== 200) throw new Error(`createRoom: ${created.status} ${created.text}`);
  roomId = created.body.room_id;
  const joined = await request(hearth.baseUrl, 'POST', `/_matrix/client/v3/join/${enc(roomId)}`, { token: member.accessToken, json: {} });
  if (joined.status !== 200) throw new Error(`join: ${joined.status} ${joined.text}`);
});

test.after.always(async () => {
  await hearth?.stop();
});

/** The standard error body: a JSON object with `errcode` and a human-readable `error`. */
function assertError(t: import('ava').ExecutionContext, res: { status: number; body: any; text: string }, status: number, errcode: string) {
  t.is(res.status, status, res.text);
  t.is(res.body?.errcode, errcode, res.text);
  t.is(typeof res.body?.error, 'string', res.text);
}

test.serial('malformed JSON is 400 M_NOT_JSON, on authenticated and unauthenticated routes', async (t) => {
  for (const raw of ['{"name": ', '{name: "x"}', 'not json at all', '{"a":1}}']) {
    assertError(t, await request(hearth.baseUrl, 'POST', '/_matrix/client/v3/createRoom', { token: owner.accessToken, raw }), 400, 'M_NOT_JSON');
  }
  assertError(t, await request(hearth.baseUrl, 'POST', '/_matrix/client/v3/login', { raw: '{"type": "m.login.password",' }), 400, 'M_NOT_JSON');
  assertError(t, await request(hearth.baseUrl, 'PUT', sendPath(roomId, 'not-json'), { token: owner.accessToken, raw: '{"body": "x"' }), 400, 'M_NOT_JSON');
});

test.serial('valid JSON of the wrong shape is 400 M_BAD_JSON', async (t) => {
  const token = owner.accessToken;
  // A request body must be a JSON object.
  assertError(t, await request(hearth.baseUrl, 'POST', '/_matrix/client/v3/createRoom', { token, raw: '[]' }), 400, 'M_BAD_JSON');
  assertError(t, await request(hearth.baseUrl, 'PUT', sendPath(roomId, 'array'), { token, raw: '["body"]' }), 400, 'M_BAD_JSON');
  assertError(t, await request(hearth.baseUrl, 'PUT', sendPath(roomId, 'string'), { token, raw: '"body"' }), 400, 'M_BAD_JSON');
  // Fields of the wrong type.
  assertError(t, await request(hearth.baseUrl, 'POST', '/_matrix/client/v3/createRoom', { token, json: { name: 5 } }), 400, 'M_BAD_JSON');
  // The spec's M_INVALID_PARAM also fits a wrong type ("expected an integer and instead received a
  // string"), so either code is right for these; the 400 is not negotiable.
  const wrongTypes = [
    await request(hearth.baseUrl, 'POST', '/_matrix/client/v3/createRoom', { token, json: { invite: 'not-a-list' } }),
    await request(hearth.baseUrl, 'POST', '/_matrix/client/v3/login', {
      json: { type: 'm.login.password', identifier: { type: 'm.id.user', user: 7 }, password: 'x' },
    }),
  ];
  for (const res of wrongTypes) {
    t.is(res.status, 400, res.text);
    t.true(['M_BAD_JSON', 'M_INVALID_PARAM'].includes(res.body?.errcode), res.text);
  }
});

test.serial('a missing token is 401 M_MISSING_TOKEN, an invalid one 401 M_UNKNOWN_TOKEN', async (t) => {
  for (const [method, path] of [
    ['GET', '/_matrix/client/v3/account/whoami'],
    ['GET', '/_matrix/client/v3/sync'],
    ['PUT', sendPath(roomId, 'no-token')],
  ] as const) {
    assertError(t, await request(hearth.baseUrl, method, path, method === 'PUT' ? { json: { msgtype: 'm.text', body: 'x' } } : {}), 401, 'M_MISSING_TOKEN');
    assertError(
      t,
      await request(hearth.baseUrl, method, path, { token: 'syt_not_a_real_token', ...(method === 'PUT' ? { json: { msgtype: 'm.text', body: 'x' } } : {}) }),
      401,
      'M_UNKNOWN_TOKEN',
    );
  }
  // The token in the query string (deprecated but still specified) is checked the same way.
  assertError(t, await request(hearth.baseUrl, 'GET', '/_matrix/client/v3/account/whoami?access_token=nope'), 401, 'M_UNKNOWN_TOKEN');
});

test.serial('an unknown endpoint is 404 M_UNRECOGNIZED; a wrong method on a known path is 405 M_UNRECOGNIZED', async (t) => {
  const token = owner.accessToken;
  assertError(t, await request(hearth.baseUrl, 'GET', '/_matrix/client/v3/no/such/endpoint', { token }), 404, 'M_UNRECOGNIZED');
  assertError(t, await request(hearth.baseUrl, 'POST', '/_matrix/client/v3/rooms/x/no-such-action', { token, json: {} }), 404, 'M_UNRECOGNIZED');
  assertError(t, await request(hearth.baseUrl, 'GET', '/_matrix/nothing-here'), 404, 'M_UNRECOGNIZED');

  assertError(t, await request(hearth.baseUrl, 'GET', '/_matrix/client/v3/createRoom', { token }), 405, 'M_UNRECOGNIZED');
  assertError(t, await request(hearth.baseUrl, 'DELETE', '/_matrix/client/v3/account/whoami', { token }), 405, 'M_UNRECOGNIZED');
  assertError(t, await request(hearth.baseUrl, 'POST', sendPath(roomId, 'wrong-method'), { token, json: {} }), 405, 'M_UNRECOGNIZED');
});

test.serial('an event over 65536 bytes is 413 M_TOO_LARGE and is not stored', async (t) => {
  const token = owner.accessToken;
  const huge = 'x'.repeat(70_000);
  assertError(t, await request(hearth.baseUrl, 'PUT', sendPath(roomId, 'huge'), { token, json: { msgtype: 'm.text', body: huge } }), 413, 'M_TOO_LARGE');
  assertError(
    t,
    await request(hearth.baseUrl, 'PUT', `/_matrix/client/v3/rooms/${enc(roomId)}/state/org.hearth.test.big/`, { token, json: { blob: huge } }),
    413,
    'M_TOO_LARGE',
  );
  // Nothing of it reached the timeline.
  const recent = await request(hearth.baseUrl, 'GET', `/_matrix/client/v3/rooms/${enc(roomId)}/messages?dir=b&limit=20`, { token });
  t.is(recent.status, 200);
  t.false(recent.text.includes(huge.slice(0, 1000)));
});

test.serial('sending into a room one is not in is 403 M_FORBIDDEN', async (t) => {
  assertError(
    t,
    await request(hearth.baseUrl, 'PUT', sendPath(roomId, 'intruder'), { token: outsider.accessToken, json: { msgtype: 'm.text', body: 'let me in' } }),
    403,
    'M_FORBIDDEN',
  );
  assertError(
    t,
    await request(hearth.baseUrl, 'PUT', `/_matrix/client/v3/rooms/${enc(roomId)}/state/m.room.topic/`, { token: outsider.accessToken, json: { topic: 'mine' } }),
    403,
    'M_FORBIDDEN',
  );
});

test.serial('a state event without the power for it is 403 M_FORBIDDEN and changes nothing', async (t) => {
  // private_chat: state_default 50, the invited member has 0.
  const stateUrl = (type: string) => `/_matrix/client/v3/rooms/${enc(roomId)}/state/${type}/`;
  assertError(t, await request(hearth.baseUrl, 'PUT', stateUrl('m.room.name'), { token: member.accessToken, json: { name: 'coup' } }), 403, 'M_FORBIDDEN');
  const levels = await request(hearth.baseUrl, 'GET', stateUrl('m.room.power_levels'), { token: member.accessToken });
  t.is(levels.status, 200);
  assertError(
    t,
    await request(hearth.baseUrl, 'PUT', stateUrl('m.room.power_levels'), {
      token: member.accessToken,
      json: { ...levels.body, users: { ...levels.body.users, [member.userId]: 100 } },
    }),
    403,
    'M_FORBIDDEN',
  );
  const name = await request(hearth.baseUrl, 'GET', stateUrl('m.room.name'), { token: member.accessToken });
  t.is(name.status, 404, 'no name event was stored');
  const after = await request(hearth.baseUrl, 'GET', stateUrl('m.room.power_levels'), { token: member.accessToken });
  t.deepEqual(after.body, levels.body);
});

test.serial('after all of it, the same process still sends and syncs', async (t) => {
  const pid = hearth.pid()!;
  t.notThrows(() => process.kill(pid, 0), 'the server process is alive');

  const initial = await request(hearth.baseUrl, 'GET', '/_matrix/client/v3/sync?timeout=0', { token: member.accessToken });
  t.is(initial.status, 200);
  const eventId = await sendText(hearth.baseUrl, owner.accessToken, roomId, 'still-fine', 'still serving');
  const filter = enc(JSON.stringify({ room: { timeline: { limit: 10 } } }));
  const next = await request(
    hearth.baseUrl,
    'GET',
    `/_matrix/client/v3/sync?since=${enc(initial.body.next_batch)}&timeout=5000&filter=${filter}`,
    { token: member.accessToken },
  );
  t.is(next.status, 200);
  const events = next.body.rooms?.join?.[roomId]?.timeline?.events ?? [];
  t.deepEqual(
    events.map((e: { event_id: string; content: { body?: string } }) => [e.event_id, e.content.body]),
    [[eventId, 'still serving']],
  );
  t.is(hearth.pid(), pid, 'no restart happened in between');
});
