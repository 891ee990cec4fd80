/** The status page's live values and the change counter its long-poll waits on (src/status/live-devices.ts). */
import test from 'ava';
import { LiveDevices } from '../../src/status/live-devices.js';

test('readings keep the latest value per sensor and mark the device changed', (t) => {
  let now = 1_000;
  const live = new LiveDevices(() => now);
  const start = live.position;
  t.is(start.epoch, 1_000);
  t.is(start.serial, 0);
  now = 2_000;
  live.reading('plug', 'power', 12.5, 1_990);
  live.reading('plug', 'power', 13, 1_995);
  live.reading('plug', 'state', true, 1_995);
  t.deepEqual(live.latest('plug', 'power'), { value: 13, ts: 1_995 });
  t.deepEqual(live.latest('plug', 'state'), { value: true, ts: 1_995 });
  t.is(live.latest('plug', 'energy'), undefined);
  t.is(live.lastSeen('plug'), 2_000);
  const after = live.position.serial;
  t.is(after, 3);
  t.deepEqual(live.changedSince(0), ['plug']);
  t.deepEqual(live.changedSince(after), []);
  now = 3_000;
  live.deviceChanged('climate');
  t.deepEqual(live.changedSince(after), ['climate'], 'only what changed after the position');
  t.is(live.lastSeen('climate'), 3_000);
  t.is(live.latest('climate', 'temperature'), undefined);
});

test('a wait answers at once when something changed after the position, else at the next change', async (t) => {
  const live = new LiveDevices();
  live.reading('plug', 'power', 1, 1);
  const serial = live.position.serial;
  await live.waitForChange(serial - 1, 60_000);
  let woken = false;
  const waiting = live.waitForChange(serial, 60_000).then(() => (woken = true));
  await new Promise((r) => setImmediate(r));
  t.false(woken, 'nothing new: parked');
  live.reading('plug', 'power', 2, 2);
  await waiting;
  t.true(woken);
});

test('a wait ends when its signal aborts and when the live view closes', async (t) => {
  const live = new LiveDevices();
  const abort = new AbortController();
  const aborted = live.waitForChange(0, 60_000, abort.signal);
  abort.abort();
  await aborted;
  const parked = live.waitForChange(0, 60_000);
  live.close();
  await parked;
  await live.waitForChange(0, 60_000);
  t.pass('closed: later waits answer at once');
});
