import test from 'ava';
import { RECENT_SYNC_MS, SyncActivity } from '../../src/rooms/sync-activity.js';

test('active while a /sync is open and for RECENT_SYNC_MS after the last one ended', (t) => {
  let now = 1_000_000;
  const activity = new SyncActivity(() => now);
  t.false(activity.isActive(), 'nobody synced yet');
  const endA = activity.begin();
  const endB = activity.begin();
  now += 10 * RECENT_SYNC_MS;
  t.true(activity.isActive(), 'a long-poll is waiting, however long');
  endA();
  endA();
  t.true(activity.isActive(), 'another is still open (ending twice counts once)');
  endB();
  now += RECENT_SYNC_MS;
  t.true(activity.isActive());
  now += 1;
  t.false(activity.isActive());
});
