/** Device lists over the real room engine (engineMembershipView), sharing the engine's stream positions. */
import test from 'ava';
import { openRoomStack } from '../helpers/room-stack.js';
import type { StreamNotifier } from '../../src/stream/notifier.js';
import { E2eeService } from '../../src/e2ee/service.js';
import { engineMembershipView } from '../../src/e2ee/membership-view.js';
import { SERVER, makeDevice } from './stack.js';

const ALICE = `@alice:${SERVER}`;
const BOB = `@bob:${SERVER}`;

test('joins, key uploads and leaves in the room engine show up in device_lists', async (t) => {
  const s = await openRoomStack();
  t.teardown(() => s.close());
  const notifier = (s.engine as unknown as { deps: { notifier: StreamNotifier } }).deps.notifier;
  const e2ee = new E2eeService({
    db: s.db,
    notifier,
    serverName: SERVER,
    memberships: engineMembershipView(s.engine),
    userDevices: async (userId) => [{ deviceId: userId === BOB ? 'BOBPHONE' : 'ALICEPHONE' }],
  });
  const call = (method: 'POST' | 'PUT', url: string, user: string, payload: object) =>
    s.app.inject({ method, url, headers: { authorization: `Bearer ${user}|DEV1` }, payload });

  const roomId = (await call('POST', '/_matrix/client/v3/createRoom', ALICE, { invite: [BOB] })).json().room_id as string;
  const beforeJoin = notifier.position;
  await call('POST', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/join`, BOB, {});
  t.deepEqual(await e2ee.deviceListsSince(ALICE, beforeJoin, notifier.position), { changed: [BOB], left: [] });

  const beforeUpload = notifier.position;
  const bobPhone = makeDevice(BOB, 'BOBPHONE');
  await e2ee.uploadKeys({ userId: BOB, deviceId: 'BOBPHONE' }, { device_keys: bobPhone.deviceKeys as never });
  t.is(notifier.position, beforeUpload + 1);
  t.deepEqual(await e2ee.deviceListsSince(ALICE, beforeUpload, notifier.position), { changed: [BOB], left: [] });

  const beforeLeave = notifier.position;
  await call('POST', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/leave`, BOB, {});
  t.deepEqual(await e2ee.deviceListsSince(ALICE, beforeLeave, notifier.position), { changed: [], left: [BOB] });
  t.deepEqual(await e2ee.deviceListsSince(BOB, beforeLeave, notifier.position), { changed: [], left: [ALICE] });
});
