/** Device list changes for /sync (`deviceListsSince`) and GET /keys/changes. */
import test from 'ava';
import { authAs, makeCrossSigningKey, makeDevice, openE2eeStack, post, type E2eeStack } from './stack.js';

const ALICE = '@alice:test.local';
const BOB = '@bob:test.local';
const CAROL = '@carol:test.local';
const DAVE = '@dave:test.local';

async function uploadDeviceKeys(s: E2eeStack, userId: string, deviceId: string): Promise<void> {
  const device = makeDevice(userId, deviceId);
  const res = await post(s.app, '/_matrix/client/v3/keys/upload', authAs(userId, deviceId), { device_keys: device.deviceKeys });
  if (res.status !== 200) throw new Error(`upload failed: ${JSON.stringify(res.body)}`);
}

test('changes are reported to users sharing a room, the user included, within the window only', async (t) => {
  const s = await openE2eeStack();
  t.teardown(() => s.close());
  s.rooms.set('!r:test.local', ALICE, 'join', 0);
  s.rooms.set('!r:test.local', BOB, 'join', 0);
  const start = s.notifier.position;

  await uploadDeviceKeys(s, BOB, 'BOBPHONE');
  await uploadDeviceKeys(s, CAROL, 'CAROLPHONE'); // shares no room with Alice
  const afterBob = s.notifier.position;
  t.is(afterBob, start + 2);
  t.deepEqual(await s.e2ee.deviceListsSince(ALICE, start, afterBob), { changed: [BOB], left: [] });
  t.deepEqual(await s.e2ee.deviceListsSince(BOB, start, afterBob), { changed: [BOB], left: [] });
  t.deepEqual(await s.e2ee.deviceListsSince(ALICE, afterBob, afterBob), { changed: [], left: [] });

  // Cross-signing keys count as a device list change.
  await post(s.app, '/_matrix/client/v3/keys/device_signing/upload', authAs(ALICE), { master_key: makeCrossSigningKey(ALICE, 'master').body });
  t.deepEqual(await s.e2ee.deviceListsSince(BOB, afterBob, s.notifier.position), { changed: [ALICE], left: [] });

  // Re-uploading the same device keys (a restarted client) is no change.
  const before = s.notifier.position;
  const phone = makeDevice(DAVE, 'DAVEPHONE');
  await post(s.app, '/_matrix/client/v3/keys/upload', authAs(DAVE, 'DAVEPHONE'), { device_keys: phone.deviceKeys });
  await post(s.app, '/_matrix/client/v3/keys/upload', authAs(DAVE, 'DAVEPHONE'), { device_keys: phone.deviceKeys });
  t.is(s.notifier.position, before + 1);
});

test('users who newly share a room are changed; users who stop sharing any are left', async (t) => {
  const s = await openE2eeStack();
  t.teardown(() => s.close());
  s.rooms.set('!a:test.local', ALICE, 'join', 1);
  s.rooms.set('!a:test.local', BOB, 'join', 2);
  s.rooms.set('!b:test.local', ALICE, 'join', 3);
  s.rooms.set('!b:test.local', CAROL, 'join', 4);
  s.rooms.set('!b:test.local', BOB, 'join', 5);

  // Carol joined a shared room in (3, 5]; Bob joined a second room with Alice, which may be reported.
  t.deepEqual((await s.e2ee.deviceListsSince(ALICE, 3, 5)).changed.sort(), [BOB, CAROL]);
  t.deepEqual((await s.e2ee.deviceListsSince(ALICE, 5, 6)).changed, []);

  // Bob leaves one room but still shares the other: not left. Carol leaves her only shared room: left.
  s.rooms.set('!b:test.local', BOB, 'leave', 6);
  s.rooms.set('!b:test.local', CAROL, 'leave', 7);
  t.deepEqual(await s.e2ee.deviceListsSince(ALICE, 5, 7), { changed: [], left: [CAROL] });

  // Alice leaves room a in (7, 8]: Bob shares nothing with her any more.
  s.rooms.set('!a:test.local', ALICE, 'leave', 8);
  t.deepEqual(await s.e2ee.deviceListsSince(ALICE, 7, 8), { changed: [], left: [BOB] });
  // Alice joining room a again in (8, 9]: everyone there is newly shared.
  s.rooms.set('!a:test.local', ALICE, 'join', 9);
  t.deepEqual(await s.e2ee.deviceListsSince(ALICE, 8, 9), { changed: [BOB], left: [] });
  // Being invited to a room shares nothing yet, and ends nothing.
  s.rooms.set('!c:test.local', DAVE, 'join', 10);
  s.rooms.set('!c:test.local', ALICE, 'invite', 11);
  t.deepEqual(await s.e2ee.deviceListsSince(ALICE, 9, 11), { changed: [], left: [] });
});

test('GET /keys/changes takes sync tokens', async (t) => {
  const s = await openE2eeStack();
  t.teardown(() => s.close());
  s.rooms.set('!r:test.local', ALICE, 'join', 0);
  s.rooms.set('!r:test.local', BOB, 'join', 0);
  const from = `s${s.notifier.position}_0`;
  await uploadDeviceKeys(s, BOB, 'BOBPHONE');
  const to = `s${s.notifier.position}_3`;
  const res = await s.app.inject({ method: 'GET', url: `/_matrix/client/v3/keys/changes?from=${from}&to=${to}`, headers: authAs(ALICE) });
  t.is(res.statusCode, 200);
  t.deepEqual(res.json(), { changed: [BOB], left: [] });

  const bad = await s.app.inject({ method: 'GET', url: `/_matrix/client/v3/keys/changes?from=nonsense&to=${to}`, headers: authAs(ALICE) });
  t.is(bad.statusCode, 400);
  t.is(bad.json().errcode, 'M_INVALID_PARAM');
  const missing = await s.app.inject({ method: 'GET', url: `/_matrix/client/v3/keys/changes?from=${from}`, headers: authAs(ALICE) });
  t.is(missing.json().errcode, 'M_MISSING_PARAM');
});

test('a device list change wakes waiters on the notifier', async (t) => {
  const s = await openE2eeStack();
  t.teardown(() => s.close());
  const woken = s.notifier.waitForChange(5000);
  await uploadDeviceKeys(s, BOB, 'BOBPHONE');
  t.true(await woken);
});
