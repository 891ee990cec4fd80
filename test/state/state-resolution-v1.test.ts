import test from 'ava';
import { createHash } from 'node:crypto';
import { resolveState } from '../../src/state/state-resolution.js';
import { resolveStateV1 } from '../../src/state/state-resolution-v1.js';
import type { Branch } from './room-builder.js';
import { ALICE, BOB, CAROL, MODERATED_ROOM_STATE, TestRoom, fork, member, moderatedRoom, powerLevels, readable, resolveBothOrders, topic } from './room-builder.js';

/**
 * rooms/v1 "State resolution" on hand-built room version 1 DAGs. Depths (the builder's): create 1,
 * Alice's join 2, power levels 3, join rules 4, Bob 5, Carol 6; every event after is one deeper
 * than its branch's head.
 */

/** Resolves through `resolveState` (which must hand v1 rooms to v1) and, reversed, `resolveStateV1`; they must agree. */
function resolve(room: TestRoom, ...branches: Branch[]) {
  return resolveBothOrders(room, branches, resolveState, resolveStateV1);
}


const sha1 = (id: string) => createHash('sha1').update(id).digest('hex');

test('room version 1 resolves with v1: keys held by only some states are not conflicts', (t) => {
  const { room, base } = moderatedRoom('1');
  t.is(room.rules.stateResolution, 'v1');
  const withTopic = fork(base);
  room.append(withTopic, '$topic', topic(ALICE, 'kitchen'));
  t.deepEqual(resolve(room, withTopic, fork(base)), { ...MODERATED_ROOM_STATE, 'm.room.topic|': '$topic' });
});

test('power levels: the deeper event replaces the shallower one when R allows it', (t) => {
  const { room, base } = moderatedRoom('1');
  const raise = fork(base);
  room.append(raise, '$pl-raise', powerLevels(ALICE, { users: { [ALICE]: 100, [BOB]: 50, [CAROL]: 10 } }));
  const later = fork(base);
  room.append(later, '$topic', topic(ALICE, 'kitchen'));
  room.append(later, '$pl-later', powerLevels(ALICE, { users: { [ALICE]: 100, [BOB]: 50, [CAROL]: 20 } }));
  t.deepEqual(resolve(room, raise, later), { ...MODERATED_ROOM_STATE, 'm.room.power_levels|': '$pl-later', 'm.room.topic|': '$topic' });
});

test('power levels: a deeper event that R no longer allows stops the pass (a demoted moderator loses)', (t) => {
  const { room, base } = moderatedRoom('1');
  const demotion = fork(base);
  room.append(demotion, '$demote', powerLevels(ALICE, { users: { [ALICE]: 100 } }));
  const bobsChange = fork(base);
  room.append(bobsChange, '$filler', topic(BOB, 'bob was here'));
  room.append(bobsChange, '$bob-pl', powerLevels(BOB, { users: { [ALICE]: 100, [BOB]: 50, [CAROL]: 50 } }));
  t.true(room.events.get('$bob-pl')!.pdu.depth > room.events.get('$demote')!.pdu.depth);
  t.deepEqual(resolve(room, demotion, bobsChange), { ...MODERATED_ROOM_STATE, 'm.room.power_levels|': '$demote', 'm.room.topic|': '$filler' });
});

test('equal depths: descending sha1(event_id) order, so the lowest sha1 that R allows comes last and wins', (t) => {
  const { room, base } = moderatedRoom('1');
  const x = fork(base);
  room.append(x, '$pl-x', powerLevels(ALICE, { users: { [ALICE]: 100, [BOB]: 50 }, ban: 60 }));
  const y = fork(base);
  room.append(y, '$pl-y', powerLevels(ALICE, { users: { [ALICE]: 100, [BOB]: 50 }, ban: 70 }));
  t.is(room.events.get('$pl-x')!.pdu.depth, room.events.get('$pl-y')!.pdu.depth);
  const expected = sha1('$pl-x') < sha1('$pl-y') ? '$pl-x' : '$pl-y';
  t.deepEqual(resolve(room, x, y), { ...MODERATED_ROOM_STATE, 'm.room.power_levels|': expected });
});

test('members are resolved after power levels, against them: a ban by a moderator demoted on the other branch is dropped', (t) => {
  const { room, base } = moderatedRoom('1');
  const ban = fork(base);
  room.append(ban, '$ban-carol', member(CAROL, 'ban', BOB));
  const demotion = fork(base);
  room.append(demotion, '$demote', powerLevels(ALICE, { users: { [ALICE]: 100 } }));
  t.deepEqual(resolve(room, ban, demotion), { ...MODERATED_ROOM_STATE, 'm.room.power_levels|': '$demote' });
});

test('a ban by a moderator who keeps their power stands', (t) => {
  const { room, base } = moderatedRoom('1');
  const ban = fork(base);
  room.append(ban, '$ban-carol', member(CAROL, 'ban', BOB));
  const other = fork(base);
  room.append(other, '$pl-other', powerLevels(ALICE, { users: { [ALICE]: 100, [BOB]: 50 }, kick: 40 }));
  t.deepEqual(resolve(room, ban, other), {
    ...MODERATED_ROOM_STATE,
    'm.room.power_levels|': '$pl-other',
    [`m.room.member|${CAROL}`]: '$ban-carol',
  });
});

test('other events: the deepest that passes the auth rules against R, else the shallowest', (t) => {
  const { room, base } = moderatedRoom('1');
  room.append(base, '$topic-alice', topic(ALICE, 'kitchen'));
  const bobsTopic = fork(base);
  room.append(bobsTopic, '$topic-bob', topic(BOB, 'garage'));
  const demotion = fork(base);
  room.append(demotion, '$demote', powerLevels(ALICE, { users: { [ALICE]: 100 } }));
  // Bob's topic is the deepest, but Bob has no power in R: Alice's older topic comes back.
  t.deepEqual(resolve(room, bobsTopic, demotion), { ...MODERATED_ROOM_STATE, 'm.room.power_levels|': '$demote', 'm.room.topic|': '$topic-alice' });

  const { room: room2, base: base2 } = moderatedRoom('1');
  room2.append(base2, '$topic-bob-1', topic(BOB, 'shed'));
  const bobAgain = fork(base2);
  room2.append(bobAgain, '$topic-bob-2', topic(BOB, 'garage'));
  const demotion2 = fork(base2);
  room2.append(demotion2, '$demote', powerLevels(ALICE, { users: { [ALICE]: 100 } }));
  // Neither of Bob's topics passes in R: the shallowest is kept.
  t.deepEqual(resolve(room2, bobAgain, demotion2), { ...MODERATED_ROOM_STATE, 'm.room.power_levels|': '$demote', 'm.room.topic|': '$topic-bob-1' });
});

test('room version 2 does not use v1: the same forks resolve by v2', (t) => {
  const room = new TestRoom('2');
  t.is(room.rules.stateResolution, 'v2');
  const base = room.start({ users: { [ALICE]: 100, [BOB]: 50 } });
  room.append(base, '$bob', member(BOB, 'join'));
  room.append(base, '$topic-alice', topic(ALICE, 'kitchen'));
  const bobsTopic = fork(base);
  room.append(bobsTopic, '$topic-bob', topic(BOB, 'garage'));
  const other = fork(base);
  room.append(other, '$pl-other', powerLevels(ALICE, { users: { [ALICE]: 100, [BOB]: 50 }, kick: 40 }));
  const resolved = readable(resolveState([bobsTopic.state, other.state], room.getEvent, room.rules));
  t.is(resolved['m.room.topic|'], '$topic-bob');
  t.is(resolved['m.room.power_levels|'], '$pl-other');
});
