import test from 'ava';
import { startHarness } from '../accounts/harness.js';

const ROOM = '!den:hearth.test';
const EVENT_A = `$${'A'.repeat(43)}`;
const EVENT_B = `$${'B'.repeat(43)}`;

test('to-device: explicit and * recipients, idempotent per txn, deleted once acknowledged', async (t) => {
  const h = await startHarness();
  t.teardown(() => h.close());
  const alice = await h.user('alice');
  const bob = await h.user('bob');
  await h.accounts.loginWithPassword('bob', 'correct horse', { deviceId: 'PHONE' });

  const send = (txn: string, messages: unknown) =>
    h.call('PUT', `/_matrix/client/v3/sendToDevice/m.room_key_request/${txn}`, { token: alice.token, body: { messages } });
  t.is((await send('t1', { [bob.userId]: { PHONE: { n: 1 } }, '@far:elsewhere.example': { X: { n: 0 } } })).status, 200);
  t.is((await send('t1', { [bob.userId]: { PHONE: { n: 1 } } })).status, 200, 'a retried transaction is not delivered twice');
  t.is((await send('t2', { [bob.userId]: { '*': { n: 2 } } })).status, 200);
  t.is((await send('t3', { [bob.userId]: 'not an object' })).status, 400);

  const now = h.notifier.position;
  const phone = await h.toDevice.toDeviceSince(bob.userId, 'PHONE', 0, now);
  t.deepEqual(phone, [
    { type: 'm.room_key_request', sender: alice.userId, content: { n: 1 } },
    { type: 'm.room_key_request', sender: alice.userId, content: { n: 2 } },
  ]);
  t.deepEqual(await h.toDevice.toDeviceSince(bob.userId, bob.deviceId, 0, now), [
    { type: 'm.room_key_request', sender: alice.userId, content: { n: 2 } },
  ]);

  // The next sync carries `since = now`: what that response delivered is gone; later messages stay.
  await send('t4', { [bob.userId]: { PHONE: { n: 3 } } });
  await h.toDevice.acknowledgeToDevice(bob.userId, 'PHONE', now);
  t.deepEqual(await h.toDevice.toDeviceSince(bob.userId, 'PHONE', now, h.notifier.position), [
    { type: 'm.room_key_request', sender: alice.userId, content: { n: 3 } },
  ]);
  // Deleting a device drops its queue.
  await h.accounts.deleteDevices(bob.userId, ['PHONE']);
  t.deepEqual(await h.toDevice.toDeviceSince(bob.userId, 'PHONE', 0, h.notifier.position), []);
});

test('receipts and read markers: need a join, private receipts stay private, m.fully_read is account data', async (t) => {
  const h = await startHarness();
  t.teardown(() => h.close());
  const alice = await h.user('alice');
  const bob = await h.user('bob');
  const receiptUrl = (type: string, eventId: string) => `/_matrix/client/v3/rooms/${encodeURIComponent(ROOM)}/receipt/${type}/${encodeURIComponent(eventId)}`;

  t.is((await h.call('POST', receiptUrl('m.read', EVENT_A), { token: alice.token, body: {} })).status, 403);
  h.joined.add(`${alice.userId}\u0000${ROOM}`);
  h.joined.add(`${bob.userId}\u0000${ROOM}`);

  t.is((await h.call('POST', receiptUrl('m.read', EVENT_A), { token: alice.token, body: {} })).status, 200);
  t.is((await h.call('POST', receiptUrl('m.read.private', EVENT_B), { token: alice.token, body: {} })).status, 200);
  const threaded = await h.call('POST', receiptUrl('m.read', EVENT_B), { token: bob.token, body: { thread_id: 'main' } });
  t.is(threaded.status, 200);
  t.is((await h.call('POST', receiptUrl('m.bogus', EVENT_A), { token: bob.token, body: {} })).body.errcode, 'M_INVALID_PARAM');
  t.is((await h.call('POST', receiptUrl('m.read', EVENT_A), { token: bob.token, body: { thread_id: 'nope' } })).status, 400);

  const forBob = (await h.receipts.receiptsSince([ROOM], 0, h.notifier.position, bob.userId)).get(ROOM) as any;
  t.deepEqual(Object.keys(forBob).sort(), [EVENT_A, EVENT_B].sort());
  t.deepEqual(Object.keys(forBob[EVENT_A]['m.read']), [alice.userId]);
  t.is(typeof forBob[EVENT_A]['m.read'][alice.userId].ts, 'number');
  t.is(forBob[EVENT_B]['m.read'][bob.userId].thread_id, 'main');
  t.is(forBob[EVENT_B]['m.read.private'], undefined, "alice's private receipt is hidden from bob");
  const forAlice = (await h.receipts.receiptsSince([ROOM], 0, h.notifier.position, alice.userId)).get(ROOM) as any;
  t.truthy(forAlice[EVENT_B]['m.read.private'][alice.userId]);

  // Incremental: only what changed after the mark.
  const mark = h.notifier.position;
  const markers = await h.call('POST', `/_matrix/client/v3/rooms/${encodeURIComponent(ROOM)}/read_markers`, {
    token: bob.token,
    body: { 'm.fully_read': EVENT_A, 'm.read': EVENT_A },
  });
  t.is(markers.status, 200);
  const changed = (await h.receipts.receiptsSince([ROOM], mark, h.notifier.position, alice.userId)).get(ROOM) as any;
  t.deepEqual(Object.keys(changed), [EVENT_A]);
  t.deepEqual(Object.keys(changed[EVENT_A]['m.read']), [bob.userId]);
  t.deepEqual(await h.accountData.get(bob.userId, ROOM, 'm.fully_read'), { event_id: EVENT_A });

  await h.call('POST', receiptUrl('m.fully_read', EVENT_B), { token: bob.token, body: {} });
  t.deepEqual(await h.accountData.get(bob.userId, ROOM, 'm.fully_read'), { event_id: EVENT_B });
});

test('typing: set, list, stop, expire, and each change wakes sync', async (t) => {
  const h = await startHarness();
  t.teardown(() => h.close());
  const alice = await h.user('alice');
  const bob = await h.user('bob');
  const url = (userId: string) => `/_matrix/client/v3/rooms/${encodeURIComponent(ROOM)}/typing/${encodeURIComponent(userId)}`;

  t.is((await h.call('PUT', url(alice.userId), { token: alice.token, body: { typing: true, timeout: 30000 } })).status, 403);
  h.joined.add(`${alice.userId}\u0000${ROOM}`);
  t.is((await h.call('PUT', url(bob.userId), { token: alice.token, body: { typing: true } })).status, 403, 'only for oneself');

  const before = h.notifier.ephemeral;
  t.is((await h.call('PUT', url(alice.userId), { token: alice.token, body: { typing: true, timeout: 30000 } })).status, 200);
  t.deepEqual(h.typing.typingFor(ROOM), [alice.userId]);
  t.is(h.notifier.ephemeral, before + 1);
  t.is((await h.call('PUT', url(alice.userId), { token: alice.token, body: { typing: false } })).status, 200);
  t.deepEqual(h.typing.typingFor(ROOM), []);
  t.is(h.notifier.ephemeral, before + 2);
  t.is((await h.call('PUT', url(alice.userId), { token: alice.token, body: {} })).status, 400);

  await h.call('PUT', url(alice.userId), { token: alice.token, body: { typing: true, timeout: 50 } });
  const woke = h.notifier.waitForChange(2000);
  t.true(await woke, 'expiry wakes waiting syncs');
  t.deepEqual(h.typing.typingFor(ROOM), []);
});
