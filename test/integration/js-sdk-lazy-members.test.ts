/**
 * client-server "Lazy-loading room members" with matrix-js-sdk 37.5.0 (`lazyLoadMembers: true`,
 * as Element starts it): Bob's client is not sent the member event of Carol, who has said nothing;
 * when she speaks, the incremental sync carries her member event, so the client shows her display
 * name for the message without calling /members. The room has a name: an unnamed room's heroes
 * come with their member events (Carol would be one), which test/rooms/lazy-members.test.ts covers.
 */
import './helpers/sdk-quiet.js';
import test from 'ava';
import { shareHearth } from './helpers/shared-hearth.js';
import { registerUser, request, sendText } from './helpers/http.js';
import { startSdkClient, waitFor } from './helpers/sdk.js';

const shared = shareHearth(test);

function expectOk(res: { status: number; text: string }, what: string): void {
  if (res.status !== 200) throw new Error(`${what}: ${res.status} ${res.text}`);
}

test('a silent member\'s display name reaches a lazy-loading client with her first message', async (t) => {
  const { baseUrl } = shared.server;
  const alice = await registerUser(baseUrl, 'alice', 'pw-alice-lazy');
  const bob = await registerUser(baseUrl, 'bob', 'pw-bob-lazy');
  const carol = await registerUser(baseUrl, 'carol', 'pw-carol-lazy');
  const profile = `/_matrix/client/v3/profile/${encodeURIComponent(carol.userId)}/displayname`;
  expectOk(await request(baseUrl, 'PUT', profile, { token: carol.accessToken, json: { displayname: 'Carol' } }), 'displayname');
  const created = await request(baseUrl, 'POST', '/_matrix/client/v3/createRoom', { token: alice.accessToken, json: { preset: 'public_chat', name: 'Kitchen' } });
  expectOk(created, 'createRoom');
  const roomId = created.body.room_id as string;
  for (const user of [bob, carol]) expectOk(await request(baseUrl, 'POST', `/_matrix/client/v3/join/${encodeURIComponent(roomId)}`, { token: user.accessToken, json: {} }), 'join');
  for (let i = 0; i < 3; i++) await sendText(baseUrl, alice.accessToken, roomId, `a${i}`, `a${i}`);

  const client = await startSdkClient(baseUrl, bob, { lazyLoadMembers: true, initialSyncLimit: 2 });
  shared.clients.push(client);
  const room = client.getRoom(roomId);
  t.truthy(room);
  t.is(room!.getMember(carol.userId), null, 'Carol is not loaded: lazy loading is on');

  const eventId = await sendText(baseUrl, carol.accessToken, roomId, 'hello', 'hello from Carol');
  await waitFor(() => room!.findEventById(eventId) !== undefined, 'Carol\'s message in Bob\'s client');
  t.is(room!.findEventById(eventId)!.sender?.name, 'Carol');
  t.is(room!.getMember(carol.userId)?.name, 'Carol');
  t.false(room!.membersLoaded(), 'the client did not load the member list');
});
