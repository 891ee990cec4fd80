/** The history visibility rules (client-server "Room History Visibility", "Server behaviour"). */
import test from 'ava';
import { allowedAt, historyVisibilityOf, mayUserSeeEvent, type HistoryVisibility } from '../../src/state/history-visibility.js';

test('absent or not understood history_visibility means shared', (t) => {
  t.is(historyVisibilityOf(undefined), 'shared');
  t.is(historyVisibilityOf({}), 'shared');
  t.is(historyVisibilityOf({ history_visibility: 'everyone' }), 'shared');
  t.is(historyVisibilityOf({ history_visibility: 7 }), 'shared');
  t.is(historyVisibilityOf({ history_visibility: 'joined' }), 'joined');
});

test('the five steps, for every visibility and membership at the event', (t) => {
  const memberships = [undefined, 'invite', 'join', 'leave', 'ban', 'knock'];
  const expected: Record<HistoryVisibility, (membership: string | undefined, joinedAfter: boolean) => boolean> = {
    world_readable: () => true,
    shared: (m, joinedAfter) => m === 'join' || joinedAfter,
    invited: (m) => m === 'join' || m === 'invite',
    joined: (m) => m === 'join',
  };
  for (const visibility of Object.keys(expected) as HistoryVisibility[]) {
    for (const membership of memberships) {
      for (const joinedAfter of [false, true]) {
        t.is(allowedAt({ visibility, membership }, joinedAfter), expected[visibility](membership, joinedAfter), `${visibility} / ${membership} / joined after: ${joinedAfter}`);
      }
    }
  }
});

test('a history_visibility change or the user\'s own membership change is visible if either side allows it', (t) => {
  // joined -> world_readable, seen by someone who never joined: allowed by the state after.
  t.true(mayUserSeeEvent({ visibility: 'joined', membership: undefined }, { visibility: 'world_readable', membership: undefined }, false));
  // The user's own join under `joined`: not a member before, a member after.
  t.true(mayUserSeeEvent({ visibility: 'joined', membership: 'invite' }, { visibility: 'joined', membership: 'join' }, false));
  // Judged on the state before only (no `after`): refused.
  t.false(mayUserSeeEvent({ visibility: 'joined', membership: 'invite' }, undefined, false));
});
