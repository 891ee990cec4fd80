import test from 'ava';
import type { JsonObject } from '../../src/core/types.js';
import { checkEventAuth } from '../../src/state/auth-rules.js';
import { canUserDo, getActionLevel, getRequiredPowerForEvent, getUserPowerLevel } from '../../src/state/power-levels.js';
import type { Branch } from './room-builder.js';
import { ALICE, BOB, CAROL, DAVE, TestRoom, member, powerLevels } from './room-builder.js';

function allowedPowerLevels(room: TestRoom, branch: Branch, sender: string, content: JsonObject): boolean {
  const event = room.build(branch, '$candidate', powerLevels(sender, content));
  return checkEventAuth(event, room.stateEvents(branch), room.rules).allowed;
}

/** Alice 100, Bob 50, Carol 50, all joined (v12: Alice is the creator instead). */
function moderatedRoom(version: '10' | '11' | '12') {
  const room = new TestRoom(version);
  const users: JsonObject = version === '12' ? { [BOB]: 50, [CAROL]: 50 } : { [ALICE]: 100, [BOB]: 50, [CAROL]: 50 };
  const branch = room.start({ users });
  room.append(branch, '$bob', member(BOB, 'join'));
  room.append(branch, '$carol', member(CAROL, 'join'));
  return { room, branch, users };
}

test('helpers: defaults without a power levels event', (t) => {
  const room = new TestRoom('11');
  const branch: Branch = { head: [], state: new Map() };
  room.append(branch, '$create', { type: 'm.room.create', stateKey: '', sender: ALICE, content: {} });
  const state = room.stateEvents(branch);
  t.is(getUserPowerLevel(ALICE, state, room.rules), 100);
  t.is(getUserPowerLevel(BOB, state, room.rules), 0);
  t.is(getRequiredPowerForEvent('m.room.topic', true, state), 50);
  t.is(getRequiredPowerForEvent('m.room.message', false, state), 0);
  t.deepEqual(
    (['invite', 'kick', 'ban', 'redact'] as const).map((action) => getActionLevel(action, state)),
    [0, 50, 50, 50],
  );
});

test('helpers: values from the power levels event', (t) => {
  const room = new TestRoom('11');
  const branch = room.start({
    users: { [ALICE]: 100, [BOB]: 30 },
    powerLevels: { users_default: 5, events: { 'm.room.topic': 20 }, state_default: 40, events_default: 1, redact: 25 },
  });
  const state = room.stateEvents(branch);
  t.is(getUserPowerLevel(BOB, state, room.rules), 30);
  t.is(getUserPowerLevel(CAROL, state, room.rules), 5);
  t.is(getRequiredPowerForEvent('m.room.topic', true, state), 20);
  t.is(getRequiredPowerForEvent('m.room.name', true, state), 40);
  t.is(getRequiredPowerForEvent('m.room.message', false, state), 1);
  t.true(canUserDo('redact', BOB, state, room.rules));
  t.false(canUserDo('kick', BOB, state, room.rules));
  t.true(canUserDo('invite', CAROL, state, room.rules));
});

test('a user cannot raise anyone above their own level', (t) => {
  const { room, branch, users } = moderatedRoom('11');
  t.false(allowedPowerLevels(room, branch, BOB, { users: { ...users, [DAVE]: 60 } }));
  t.true(allowedPowerLevels(room, branch, BOB, { users: { ...users, [DAVE]: 50 } }));
  t.false(allowedPowerLevels(room, branch, BOB, { users: { ...users, [BOB]: 51 } }), 'not even themselves');
});

test('a user cannot change or remove a level equal to or above their own, except their own', (t) => {
  const { room, branch, users } = moderatedRoom('11');
  t.false(allowedPowerLevels(room, branch, BOB, { users: { ...users, [CAROL]: 10 } }), 'carol equals bob');
  t.false(allowedPowerLevels(room, branch, BOB, { users: { [ALICE]: 100, [BOB]: 50 } }), 'removing carol');
  t.false(allowedPowerLevels(room, branch, BOB, { users: { ...users, [ALICE]: 0 } }), 'demoting alice');
  t.true(allowedPowerLevels(room, branch, BOB, { users: { ...users, [BOB]: 10 } }), 'demoting oneself');
  t.true(allowedPowerLevels(room, branch, ALICE, { users: { ...users, [CAROL]: 10 } }));
});

test('top-level and per-event levels: neither old nor new value may exceed the sender', (t) => {
  const { room, branch, users } = moderatedRoom('11');
  // Everything below needs m.room.power_levels' required level (state_default 50): Bob has it.
  t.true(allowedPowerLevels(room, branch, BOB, { users, kick: 40 }));
  t.false(allowedPowerLevels(room, branch, BOB, { users, kick: 60 }));
  t.true(allowedPowerLevels(room, branch, BOB, { users, events: { 'm.room.topic': 50 } }));
  t.false(allowedPowerLevels(room, branch, BOB, { users, events: { 'm.room.topic': 51 } }));
  t.false(allowedPowerLevels(room, branch, BOB, { users, notifications: { room: 75 } }));
  room.append(branch, '$pl2', powerLevels(ALICE, { users, ban: 80, events: { 'm.room.name': 90 } }));
  t.false(allowedPowerLevels(room, branch, BOB, { users, events: { 'm.room.name': 90 } }), 'ban 80 removed');
  t.false(allowedPowerLevels(room, branch, BOB, { users, ban: 80 }), 'events entry 90 removed');
  t.true(allowedPowerLevels(room, branch, ALICE, { users }));
});

test('malformed power levels are rejected: strings (v10+), bad user ids, non-integer maps', (t) => {
  const { room, branch, users } = moderatedRoom('10');
  t.false(allowedPowerLevels(room, branch, ALICE, { users, ban: '50' }));
  t.false(allowedPowerLevels(room, branch, ALICE, { users: { ...users, [DAVE]: '5' } }));
  t.false(allowedPowerLevels(room, branch, ALICE, { users: { ...users, dave: 5 } }));
  t.false(allowedPowerLevels(room, branch, ALICE, { users, events: { 'm.room.topic': 1.5 } }));
  t.false(allowedPowerLevels(room, branch, ALICE, { users, notifications: [] }));
  t.true(allowedPowerLevels(room, branch, ALICE, { users, ban: 50 }));
});

test('v10 and v11: the creator is a normal user with an entry in users', (t) => {
  for (const version of ['10', '11'] as const) {
    const { room, branch, users } = moderatedRoom(version);
    t.is(getUserPowerLevel(ALICE, room.stateEvents(branch), room.rules), 100);
    t.true(allowedPowerLevels(room, branch, ALICE, { users: { ...users, [ALICE]: 90 } }), `v${version}`);
  }
});

test('v12: creators have infinite power and cannot be named in users', (t) => {
  const { room, branch, users } = moderatedRoom('12');
  const state = room.stateEvents(branch);
  t.is(getUserPowerLevel(ALICE, state, room.rules), Infinity);
  t.is(getUserPowerLevel(BOB, state, room.rules), 50);
  t.false(allowedPowerLevels(room, branch, ALICE, { users: { ...users, [ALICE]: 100 } }));
  // Infinite power may raise anyone to any finite level.
  t.true(allowedPowerLevels(room, branch, ALICE, { users: { ...users, [BOB]: 9007199254740991 } }));
  // Nobody outranks a creator: Bob at 50 cannot kick Alice.
  const kick = room.build(branch, '$kick', member(ALICE, 'leave', BOB));
  t.false(checkEventAuth(kick, state, room.rules).allowed);
});

test('v12: additional_creators are creators too', (t) => {
  const room = new TestRoom('12');
  const branch = room.start({ createContent: { additional_creators: [BOB] }, users: { [CAROL]: 100 } });
  room.append(branch, '$bob', member(BOB, 'join'));
  room.append(branch, '$carol', member(CAROL, 'join'));
  const state = room.stateEvents(branch);
  t.is(getUserPowerLevel(BOB, state, room.rules), Infinity);
  t.false(allowedPowerLevels(room, branch, ALICE, { users: { [BOB]: 100 } }), 'bob cannot be listed');
  const ban = (target: string, id: string) => checkEventAuth(room.build(branch, id, member(target, 'ban', BOB)), state, room.rules);
  t.true(ban(CAROL, '$ban-carol').allowed, 'infinite power beats 100');
  t.false(ban(ALICE, '$ban-alice').allowed, 'creators cannot ban each other');
});

test('v12: without a power levels event, creators are infinite and others 0', (t) => {
  const room = new TestRoom('12');
  const branch: Branch = { head: [], state: new Map() };
  room.append(branch, '$create', { type: 'm.room.create', stateKey: '', sender: ALICE, content: { additional_creators: [BOB] } });
  const state = room.stateEvents(branch);
  t.is(getUserPowerLevel(ALICE, state, room.rules), Infinity);
  t.is(getUserPowerLevel(BOB, state, room.rules), Infinity);
  t.is(getUserPowerLevel(CAROL, state, room.rules), 0);
});
