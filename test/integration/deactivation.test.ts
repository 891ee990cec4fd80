/** Account deactivation against a running Hearth: the user's rooms see them leave, invites are rejected. */
import test from 'ava';
import { startHearth } from './helpers/server.js';
import { registerUser, request } from './helpers/http.js';

test('a deactivated user leaves every joined room and rejects every pending invite', async (t) => {
  const hearth = await startHearth({ t });
  const alice = await registerUser(hearth.baseUrl, 'alice', 'pw-alice');
  const bob = await registerUser(hearth.baseUrl, 'bob', 'pw-bob');
  const as = (user: typeof alice, method: string, path: string, json?: unknown) =>
    request(hearth.baseUrl, method, `/_matrix/client/v3${path}`, { token: user.accessToken, ...(json === undefined ? {} : { json }) });
  const joined = (await as(alice, 'POST', '/createRoom', { preset: 'private_chat', invite: [bob.userId] })).body.room_id as string;
  t.is((await as(bob, 'POST', `/rooms/${encodeURIComponent(joined)}/join`, {})).status, 200);
  const invited = (await as(alice, 'POST', '/createRoom', { preset: 'private_chat', invite: [bob.userId] })).body.room_id as string;

  const challenge = await as(bob, 'POST', '/account/deactivate', {});
  const auth = { type: 'm.login.password', identifier: { type: 'm.id.user', user: 'bob' }, password: 'pw-bob', session: challenge.body.session };
  t.is((await as(bob, 'POST', '/account/deactivate', { auth })).status, 200);

  for (const roomId of [joined, invited]) {
    const member = await as(alice, 'GET', `/rooms/${encodeURIComponent(roomId)}/state/m.room.member/${encodeURIComponent(bob.userId)}`);
    t.is(member.body.membership, 'leave', roomId === joined ? 'left the joined room' : 'rejected the invite');
  }
  t.is((await as(bob, 'GET', '/joined_rooms')).status, 401);
});

test('erase: who joins after the erasure gets the user\'s messages redacted; who was there keeps them', async (t) => {
  const hearth = await startHearth({ t });
  const [alice, bob, carol] = await Promise.all(['alice', 'bob', 'carol'].map((n) => registerUser(hearth.baseUrl, n, `pw-${n}`)));
  const as = (user: typeof alice, method: string, path: string, json?: unknown) =>
    request(hearth.baseUrl, method, `/_matrix/client/v3${path}`, { token: user!.accessToken, ...(json === undefined ? {} : { json }) });
  const roomId = (await as(alice, 'POST', '/createRoom', { preset: 'private_chat', invite: [bob!.userId] })).body.room_id as string;
  const room = encodeURIComponent(roomId);
  await as(bob, 'POST', `/rooms/${room}/join`, {});
  const secret = (await as(bob, 'PUT', `/rooms/${room}/send/m.room.message/e1`, { msgtype: 'm.text', body: "bob's phone number is 555-0100" })).body.event_id as string;
  const kept = (await as(alice, 'PUT', `/rooms/${room}/send/m.room.message/e2`, { msgtype: 'm.text', body: 'noted' })).body.event_id as string;

  const challenge = await as(bob, 'POST', '/account/deactivate', { erase: true });
  const auth = { type: 'm.login.password', identifier: { type: 'm.id.user', user: 'bob' }, password: 'pw-bob', session: challenge.body.session };
  t.is((await as(bob, 'POST', '/account/deactivate', { auth, erase: true })).status, 200);
  await as(alice, 'POST', `/rooms/${room}/invite`, { user_id: carol!.userId });
  await as(carol, 'POST', `/rooms/${room}/join`, {});

  const aliceSees = await as(alice, 'GET', `/rooms/${room}/event/${encodeURIComponent(secret)}`);
  t.is(aliceSees.body.content.body, "bob's phone number is 555-0100", 'Alice was there: unredacted');
  const carolSees = await as(carol, 'GET', `/rooms/${room}/event/${encodeURIComponent(secret)}`);
  t.is(carolSees.status, 200);
  t.deepEqual(carolSees.body.content, {}, 'Carol joined after the erasure: redacted');
  t.is(carolSees.body.sender, bob!.userId);
  const carolHistory = await as(carol, 'GET', `/rooms/${room}/messages?dir=b&limit=50`);
  const bodies = carolHistory.body.chunk.filter((e: any) => e.type === 'm.room.message').map((e: any) => e.content.body);
  t.deepEqual(bodies, ['noted', undefined], "Alice's message stays; Bob's is served empty");
  t.is((await as(carol, 'GET', `/rooms/${room}/event/${encodeURIComponent(kept)}`)).body.content.body, 'noted');
});
