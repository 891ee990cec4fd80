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
