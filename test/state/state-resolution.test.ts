import test from 'ava';
import { authChain, resolveState } from '../../src/state/state-resolution.js';
import { conflictedStateSubgraph } from '../../src/state/state-res-sets.js';
import type { Branch } from './room-builder.js';
import { ALICE, BOB, CAROL, DAVE, MODERATED_ROOM_STATE, TestRoom, fork, joinRules, member, moderatedRoom, powerLevels, readable, resolveBothOrders, topic } from './room-builder.js';

/** Resolves in both argument orders and checks they agree (the result must not depend on it). */
function resolve(room: TestRoom, ...branches: Branch[]) {
  return resolveBothOrders(room, branches, resolveState);
}


test('identical state sets resolve to themselves', (t) => {
  const { room, base } = moderatedRoom('11');
  t.deepEqual(resolve(room, base, fork(base)), MODERATED_ROOM_STATE);
});

test('a ban racing a demotion of the banner: the demotion wins and the ban is dropped', (t) => {
  const { room, base } = moderatedRoom('11');
  const demotion = fork(base);
  room.append(demotion, '$demote-bob', powerLevels(ALICE, { users: { [ALICE]: 100 } }));
  const ban = fork(base);
  // Bob's ban is even older than the demotion: power, not time, orders power events.
  room.append(ban, '$ban-carol', { ...member(CAROL, 'ban', BOB), ts: 1 });

  t.deepEqual(resolve(room, demotion, ban), { ...MODERATED_ROOM_STATE, 'm.room.power_levels|': '$demote-bob' });
});

test('a ban by a moderator who keeps their power stands', (t) => {
  const { room, base } = moderatedRoom('11');
  const topicChange = fork(base);
  room.append(topicChange, '$pl-topic', powerLevels(ALICE, { users: { [ALICE]: 100, [BOB]: 50 }, events: { 'm.room.topic': 0 } }));
  const ban = fork(base);
  room.append(ban, '$ban-carol', member(CAROL, 'ban', BOB));

  t.deepEqual(resolve(room, topicChange, ban), {
    ...MODERATED_ROOM_STATE,
    [`m.room.member|${CAROL}`]: '$ban-carol',
    'm.room.power_levels|': '$pl-topic',
  });
});

test('competing power level changes: the more powerful sender goes first and can void the other', (t) => {
  const { room, base } = moderatedRoom('11');
  const byAlice = fork(base);
  room.append(byAlice, '$alice-pl', { ...powerLevels(ALICE, { users: { [ALICE]: 100, [BOB]: 0 } }), ts: 5000 });
  const byBob = fork(base);
  room.append(byBob, '$bob-pl', { ...powerLevels(BOB, { users: { [ALICE]: 100, [BOB]: 50, [CAROL]: 50 } }), ts: 10 });

  // Alice (100) sorts before Bob (50) despite her later timestamp; Bob's change is then checked
  // against Alice's levels, where he has 0, and is rejected.
  t.deepEqual(resolve(room, byAlice, byBob), { ...MODERATED_ROOM_STATE, 'm.room.power_levels|': '$alice-pl' });
});

test('a join racing a change of the join rule to invite is rejected', (t) => {
  const { room, base } = moderatedRoom('11');
  const closing = fork(base);
  room.append(closing, '$jr-invite', joinRules(ALICE, 'invite'));
  const joining = fork(base);
  room.append(joining, '$dave', member(DAVE, 'join'));

  const resolved = resolve(room, closing, joining);
  t.deepEqual(resolved, { ...MODERATED_ROOM_STATE, 'm.room.join_rules|': '$jr-invite' });
  t.false(`m.room.member|${DAVE}` in resolved);
});

test('an invited join survives the same race', (t) => {
  const { room, base } = moderatedRoom('11');
  room.append(base, '$invite-dave', member(DAVE, 'invite', ALICE));
  const closing = fork(base);
  room.append(closing, '$jr-invite', joinRules(ALICE, 'invite'));
  const joining = fork(base);
  room.append(joining, '$dave', member(DAVE, 'join'));

  t.deepEqual(resolve(room, closing, joining), {
    ...MODERATED_ROOM_STATE,
    'm.room.join_rules|': '$jr-invite',
    [`m.room.member|${DAVE}`]: '$dave',
  });
});

test('topic conflict: mainline ordering puts the topic based on the newer power levels last', (t) => {
  const { room, base } = moderatedRoom('11');
  const left = fork(base);
  room.append(left, '$pl2', powerLevels(ALICE, { users: { [ALICE]: 100, [BOB]: 50 }, events: { 'm.room.topic': 50 } }));
  room.append(left, '$topic-bob', topic(BOB, 'from bob', 2000));
  const right = fork(base);
  // Much later, but authorised by the older power levels event.
  room.append(right, '$topic-alice', topic(ALICE, 'from alice', 9000));

  // Mainline of $pl2: [$pl2, $pl]. $topic-alice cites $pl (position 1), $topic-bob cites $pl2
  // (position 0): the greater position sorts first, so Bob's topic is applied last and wins.
  t.deepEqual(resolve(room, left, right), { ...MODERATED_ROOM_STATE, 'm.room.power_levels|': '$pl2', 'm.room.topic|': '$topic-bob' });
});

test('topic conflict on the same mainline position: the later timestamp, then the greater event id, wins', (t) => {
  const { room, base } = moderatedRoom('11');
  const early = fork(base);
  room.append(early, '$topic-z', topic(ALICE, 'early', 3000));
  const late = fork(base);
  room.append(late, '$topic-a', topic(ALICE, 'late', 4000));
  t.deepEqual(resolve(room, early, late), { ...MODERATED_ROOM_STATE, 'm.room.topic|': '$topic-a' });

  const tieA = fork(base);
  room.append(tieA, '$tie-a', topic(ALICE, 'a', 5000));
  const tieB = fork(base);
  room.append(tieB, '$tie-b', topic(ALICE, 'b', 5000));
  t.deepEqual(resolve(room, tieA, tieB), { ...MODERATED_ROOM_STATE, 'm.room.topic|': '$tie-b' });
});

/**
 * Bob changes the power levels (demoting Carol) while, concurrently, he leaves and Carol then
 * changes the power levels on the old ones. One server merged Bob's change with his leave; the
 * other only has the leave and Carol's change. Bob's leave is unconflicted.
 */
function raceAgainstALeave(version: '11' | '12') {
  const room = new TestRoom(version);
  const users = { [BOB]: 100, [CAROL]: 50 };
  const base = room.start({ users: version === '12' ? users : { [ALICE]: 100, ...users } });
  room.append(base, '$bob', member(BOB, 'join'));
  room.append(base, '$carol', member(CAROL, 'join'));
  const withoutCarol = { ...users, [CAROL]: 0 };

  const bobsChange = fork(base);
  room.append(bobsChange, '$bob-pl', powerLevels(BOB, { users: version === '12' ? withoutCarol : { [ALICE]: 100, ...withoutCarol } }));
  const leaving = fork(base);
  room.append(leaving, '$bob-leave', member(BOB, 'leave'));
  const carolsChange = fork(leaving);
  room.append(carolsChange, '$carol-pl', powerLevels(CAROL, { users: version === '12' ? { ...users, [DAVE]: 10 } : { [ALICE]: 100, ...users, [DAVE]: 10 } }));

  const merged: Branch = { head: ['$bob-pl', '$bob-leave'], state: resolveState([bobsChange.state, leaving.state], room.getEvent, room.rules) };
  return { room, merged, carolsChange };
}

test('v2 (room v11): checked against the unconflicted state, Bob has already left, so Carol\'s change wins', (t) => {
  const { room, merged, carolsChange } = raceAgainstALeave('11');
  t.is(readable(merged.state)['m.room.power_levels|'], '$bob-pl');
  t.is(readable(merged.state)[`m.room.member|${BOB}`], '$bob-leave');
  t.deepEqual(resolve(room, merged, carolsChange), {
    ...MODERATED_ROOM_STATE,
    [`m.room.member|${BOB}`]: '$bob-leave',
    'm.room.power_levels|': '$carol-pl',
  });
});

test('v2.1 (room v12): from the empty state Bob\'s change is checked on its own auth events, and voids Carol\'s', (t) => {
  const { room, merged, carolsChange } = raceAgainstALeave('12');
  t.deepEqual(resolve(room, merged, carolsChange), {
    ...MODERATED_ROOM_STATE,
    [`m.room.member|${BOB}`]: '$bob-leave',
    'm.room.power_levels|': '$bob-pl',
  });
});

test('v12: creators (infinite power) order first and cannot be kicked by a racing moderator', (t) => {
  const room = new TestRoom('12');
  const base = room.start({ createContent: { additional_creators: [BOB] }, users: { [CAROL]: 100 } });
  room.append(base, '$bob', member(BOB, 'join'));
  room.append(base, '$carol', member(CAROL, 'join'));
  const byBob = fork(base);
  room.append(byBob, '$kick-carol', { ...member(CAROL, 'leave', BOB), ts: 9000 });
  const byCarol = fork(base);
  room.append(byCarol, '$carol-pl', { ...powerLevels(CAROL, { users: { [CAROL]: 100 }, kick: 100 }), ts: 1 });

  // Bob (infinite) sorts before Carol (100) despite his later timestamp; after the kick Carol is
  // no longer joined, so her power levels change is rejected.
  t.deepEqual(resolve(room, byBob, byCarol), {
    ...MODERATED_ROOM_STATE,
    [`m.room.member|${BOB}`]: '$bob',
    [`m.room.member|${CAROL}`]: '$kick-carol',
  });
});

test('authChain follows auth_events transitively', (t) => {
  const { room, base } = moderatedRoom('11');
  room.append(base, '$topic', topic(ALICE, 't'));
  t.deepEqual([...authChain(['$topic'], room.getEvent)].sort(), ['$alice', '$create', '$pl']);
  t.deepEqual([...authChain(['$carol'], room.getEvent)].sort(), ['$alice', '$create', '$jr', '$pl']);
});

test('conflicted state subgraph: the events on auth paths between conflicted events', (t) => {
  const { room, base } = moderatedRoom('11');
  room.append(base, '$pl2', powerLevels(ALICE, { users: { [ALICE]: 100, [BOB]: 60 } }));
  room.append(base, '$kick', member(CAROL, 'leave', BOB));
  // $kick cites $pl2, $bob and $carol; each of those reaches $pl ($carol through $jr). $alice and
  // $create are in $kick's auth chain too but lead to no conflicted event, so they stay out.
  t.deepEqual(
    [...conflictedStateSubgraph(new Set(['$kick', '$pl']), room.getEvent)].sort(),
    ['$bob', '$carol', '$jr', '$kick', '$pl', '$pl2'],
  );
  t.deepEqual([...conflictedStateSubgraph(new Set(['$kick']), room.getEvent)], ['$kick']);
});
