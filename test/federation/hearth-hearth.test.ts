/**
 * Two Hearth gateways federating with each other (issue 11 "Proof": scenario 1 between two Hearth
 * instances): a room created on one, the invite crossing, the join, 20 messages each way in order,
 * a topic and a power-level change read identically on both; for room versions 10, 11 and 12.
 */
import test from 'ava';
import { startHearth, type HearthServer } from '../integration/helpers/server.js';
import { registerUser, request } from '../integration/helpers/http.js';
import { call, eventually, exchange, setDiagnostics } from './room-exchange.js';

let home: HearthServer;
let cabin: HearthServer;

test.before(async () => {
  [home, cabin] = await Promise.all([startHearth({ federated: true }), startHearth({ federated: true })]);
  setDiagnostics(() => `--- home ---\n${home.output().slice(-3000)}\n--- cabin ---\n${cabin.output().slice(-3000)}`);
});

test.after.always(async () => {
  await Promise.all([home?.stop(), cabin?.stop()]);
});

for (const version of ['10', '11', '12']) {
  test.serial(`Hearth <-> Hearth, v${version}: invite, join, 20 messages each way, topic and power levels`, async (t) => {
    const [ann, ben] = await Promise.all([
      registerUser(home.baseUrl, `ann${version}`, 'secret-password-1'),
      registerUser(cabin.baseUrl, `ben${version}`, 'secret-password-1'),
    ]);
    await exchange(
      t,
      { base: home.baseUrl, token: ann.accessToken, userId: ann.userId },
      { base: cabin.baseUrl, token: ben.accessToken, userId: ben.userId },
      version,
      'hearth-pair',
    );
  });
}

test.serial('a restricted room (v10) admits a member of the room its join rule names, vouched for by the resident server; others are refused', async (t) => {
  const [owner, member, stranger] = await Promise.all([
    registerUser(home.baseUrl, 'owner-r', 'secret-password-1'),
    registerUser(cabin.baseUrl, 'member-r', 'secret-password-1'),
    registerUser(cabin.baseUrl, 'stranger-r', 'secret-password-1'),
  ]);
  const o = { base: home.baseUrl, token: owner.accessToken, userId: owner.userId };
  const m = { base: cabin.baseUrl, token: member.accessToken, userId: member.userId };
  const lobby = (await call(o, 'POST', '/_matrix/client/v3/createRoom', { preset: 'public_chat', room_version: '10' })).room_id as string;
  const inner = (await call(o, 'POST', '/_matrix/client/v3/createRoom', {
    preset: 'private_chat',
    room_version: '10',
    initial_state: [{ type: 'm.room.join_rules', state_key: '', content: { join_rule: 'restricted', allow: [{ type: 'm.room_membership', room_id: lobby }] } }],
  })).room_id as string;
  const via = `?server_name=${encodeURIComponent(home.serverName)}`;
  await call(m, 'POST', `/_matrix/client/v3/join/${encodeURIComponent(lobby)}${via}`, {});
  await call(m, 'POST', `/_matrix/client/v3/join/${encodeURIComponent(inner)}${via}`, {});
  const joinEvent = await eventually('the restricted join on the resident server', async () => {
    const res = await request(home.baseUrl, 'GET', `/_matrix/client/v3/rooms/${encodeURIComponent(inner)}/state/m.room.member/${encodeURIComponent(member.userId)}`, { token: owner.accessToken });
    return res.status === 200 && res.body.membership === 'join' ? res.body : undefined;
  });
  t.is(joinEvent.join_authorised_via_users_server, owner.userId);
  // A received message counts for the local member it notifies (issue 13: counted in its batch).
  await call(o, 'PUT', `/_matrix/client/v3/rooms/${encodeURIComponent(inner)}/send/m.room.message/welcome`, { msgtype: 'm.text', body: 'welcome in' });
  const counts = await eventually('the welcome counted on the member side', async () => {
    const res = await request(cabin.baseUrl, 'GET', '/_matrix/client/v3/sync', { token: member.accessToken });
    const room = res.body?.rooms?.join?.[inner];
    return room?.timeline?.events?.some((e: { content?: { body?: string } }) => e.content?.body === 'welcome in') ? room.unread_notifications : undefined;
  });
  t.deepEqual(counts, { notification_count: 1, highlight_count: 0 });
  const refused = await request(cabin.baseUrl, 'POST', `/_matrix/client/v3/join/${encodeURIComponent(inner)}${via}`, { token: stranger.accessToken, json: {} });
  t.is(refused.status, 403, refused.text);
  t.is(refused.body.errcode, 'M_FORBIDDEN');
});
