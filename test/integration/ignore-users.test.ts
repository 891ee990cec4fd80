/**
 * Ignoring users (client-server "Ignoring Users") with matrix-js-sdk: Bob ignores Carol through the
 * SDK's setIgnoredUsers; from the next sync on he gets none of her messages (in /sync, /messages
 * and unread counts) but still her state events, and not her invites; un-ignoring resumes delivery.
 */
import './helpers/sdk-quiet.js';
import test from 'ava';
import * as sdk from 'matrix-js-sdk';
import { shareHearth } from './helpers/shared-hearth.js';
import { registerUser, request, sendText, type RegisteredUser } from './helpers/http.js';
import { startSdkClient, waitFor } from './helpers/sdk.js';

const shared = shareHearth(test);
const clients = shared.clients;

test('an ignored user\'s messages and invites stop reaching Bob; her state events still do; un-ignoring resumes', async (t) => {
  const hearth = shared.server;
  const [alice, bobAccount, carol] = await Promise.all(['alice', 'bob', 'carol'].map((n) => registerUser(hearth.baseUrl, n, `pw-${n}-ignore`))) as [RegisteredUser, RegisteredUser, RegisteredUser];
  const created = await request(hearth.baseUrl, 'POST', '/_matrix/client/v3/createRoom', { token: alice.accessToken, json: { preset: 'public_chat', name: 'Hall' } });
  const roomId = created.body.room_id as string;
  for (const u of [bobAccount, carol]) await request(hearth.baseUrl, 'POST', `/_matrix/client/v3/join/${encodeURIComponent(roomId)}`, { token: u.accessToken, json: {} });

  const bob = await startSdkClient(hearth.baseUrl, bobAccount);
  clients.push(bob);
  const seen: string[] = [];
  bob.on(sdk.RoomEvent.Timeline, (event, room, toStart) => {
    if (room?.roomId === roomId && !toStart && event.getType() === 'm.room.message') seen.push(event.getContent().body as string);
  });

  await bob.setIgnoredUsers([carol.userId]);
  t.deepEqual(bob.getIgnoredUsers(), [carol.userId]);
  await sendText(hearth.baseUrl, carol.accessToken, roomId, 'c1', 'carol while ignored');
  const rename = await request(hearth.baseUrl, 'PUT', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/state/m.room.member/${encodeURIComponent(carol.userId)}`, {
    token: carol.accessToken,
    json: { membership: 'join', displayname: 'Caroline' },
  });
  t.is(rename.status, 200);
  await sendText(hearth.baseUrl, alice.accessToken, roomId, 'a1', 'alice after');
  await waitFor(() => seen.includes('alice after'), "Alice's message");
  await waitFor(() => bob.getRoom(roomId)?.getMember(carol.userId)?.name === 'Caroline', "Carol's new name (state still arrives)");
  t.deepEqual(seen, ['alice after']);

  const messages = await request(hearth.baseUrl, 'GET', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/messages?dir=b&limit=50`, { token: bobAccount.accessToken });
  const bodies = messages.body.chunk.filter((e: any) => e.type === 'm.room.message').map((e: any) => e.content.body);
  t.deepEqual(bodies, ['alice after'], '/messages leaves her out too');
  t.true(messages.body.chunk.some((e: any) => e.type === 'm.room.member' && e.content.displayname === 'Caroline'));
  const fresh = await request(hearth.baseUrl, 'GET', '/_matrix/client/v3/sync', { token: bobAccount.accessToken });
  t.is(fresh.body.rooms.join[roomId].unread_notifications.notification_count, 1, "only Alice's message counts");

  // Carol's invite to a new room does not reach Bob.
  const side = await request(hearth.baseUrl, 'POST', '/_matrix/client/v3/createRoom', { token: carol.accessToken, json: { invite: [bobAccount.userId], name: 'Carol only' } });
  const aliceRoom = await request(hearth.baseUrl, 'POST', '/_matrix/client/v3/createRoom', { token: alice.accessToken, json: { invite: [bobAccount.userId], name: 'Alice only' } });
  await waitFor(() => bob.getRoom(aliceRoom.body.room_id)?.getMyMembership() === 'invite', "Alice's invite");
  t.is(bob.getRoom(side.body.room_id), null, "Carol's invite is not sent");
  const invites = Object.keys(fresh.body.rooms.invite ?? {});
  t.false(invites.includes(side.body.room_id));

  await bob.setIgnoredUsers([]);
  await sendText(hearth.baseUrl, carol.accessToken, roomId, 'c2', 'carol again');
  await waitFor(() => seen.includes('carol again'), "Carol's message after un-ignoring");
  t.deepEqual(seen, ['alice after', 'carol again'], 'what was missed while ignored stays missed');
});
