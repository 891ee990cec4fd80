import test from 'ava';
import { startHarness } from './harness.js';

test('a capped delivery is not deleted beyond what it carried', async (t) => {
  const h = await startHarness();
  t.teardown(() => h.close());
  const alice = await h.user('alice');
  const bob = await h.user('bob');
  for (let i = 0; i < 150; i++) {
    await h.toDevice.send(alice, 'm.test', `txn${i}`, { [bob.userId]: { [bob.deviceId]: { i } } });
  }
  const tokenA = h.notifier.position;
  const first = await h.toDevice.toDeviceSince(bob.userId, bob.deviceId, 0, tokenA);
  t.is(first.length, 100);
  t.deepEqual(first[99]!.content, { i: 99 });
  // The client syncs again with the token of that response: only the 100 delivered are deleted.
  await h.toDevice.acknowledgeToDevice(bob.userId, bob.deviceId, tokenA);
  const second = await h.toDevice.toDeviceSince(bob.userId, bob.deviceId, tokenA, tokenA);
  t.deepEqual(second.map((m) => m.content.i), Array.from({ length: 50 }, (_, k) => 100 + k));
  await h.toDevice.acknowledgeToDevice(bob.userId, bob.deviceId, tokenA);
  t.deepEqual(await h.toDevice.toDeviceSince(bob.userId, bob.deviceId, tokenA, tokenA), []);
});

test('a to-device transaction id is scoped to its event type: the same txnId for another type is delivered', async (t) => {
  const h = await startHarness();
  t.teardown(() => h.close());
  const alice = await h.user('alice');
  const bob = await h.user('bob');
  await h.toDevice.send(alice, 'm.room_key_request', 'same', { [bob.userId]: { [bob.deviceId]: { n: 1 } } });
  await h.toDevice.send(alice, 'm.room_key_request', 'same', { [bob.userId]: { [bob.deviceId]: { n: 1 } } });
  await h.toDevice.send(alice, 'm.secret.request', 'same', { [bob.userId]: { [bob.deviceId]: { n: 2 } } });
  const got = await h.toDevice.toDeviceSince(bob.userId, bob.deviceId, 0, h.notifier.position);
  t.deepEqual(got.map((m) => [m.type, m.content.n]), [['m.room_key_request', 1], ['m.secret.request', 2]]);
});
