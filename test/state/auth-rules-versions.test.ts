import test from 'ava';
import type { JsonObject, RoomEvent, RoomVersionId } from '../../src/core/types.js';
import { checkEventAuth } from '../../src/state/auth-rules.js';
import { getUserPowerLevel } from '../../src/state/power-levels.js';
import type { Branch, EventSpec } from './room-builder.js';
import { ALICE, BOB, CAROL, TestRoom, member, powerLevels, topic } from './room-builder.js';

/**
 * One test per authorisation rule that differs between room versions (rooms/v1 .. v12
 * "Authorisation rules"), each checked on the last version without the change and the first
 * with it (and, where the rule is removed, the other way round).
 */

function verdict(room: TestRoom, branch: Branch, spec: EventSpec, id = '$candidate:c.test') {
  return checkEventAuth(room.build(branch, id, spec), room.stateEvents(branch), room.rules);
}
const allowed = (room: TestRoom, branch: Branch, spec: EventSpec, id?: string) => verdict(room, branch, spec, id).allowed;

/** A room of each version, started with the given options, and a function to try an event in it. */
function inEach(versions: RoomVersionId[], options: Parameters<TestRoom['start']>[0], setup?: (room: TestRoom, branch: Branch) => void) {
  return versions.map((version) => {
    const room = new TestRoom(version);
    const branch = room.start(options);
    setup?.(room, branch);
    return { version, room, branch };
  });
}

function signedBy(event: RoomEvent, server: string): RoomEvent {
  return { ...event, pdu: { ...event.pdu, signatures: { [server]: { 'ed25519:k': 'sig' } } } };
}

test('create rule 1.4: content.creator required in v1-v10, not from v11', (t) => {
  const empty: Branch = { head: [], state: new Map() };
  const create = (version: string): EventSpec => ({ type: 'm.room.create', stateKey: '', sender: ALICE, content: { room_version: version } });
  t.false(allowed(new TestRoom('1'), empty, create('1')));
  t.false(allowed(new TestRoom('10'), empty, create('10')));
  t.true(allowed(new TestRoom('11'), empty, create('11')));
});

test('first join (v1 rule 5.2.1): only content.creator, with the create event as the only [id, hash] prev event', (t) => {
  const room = new TestRoom('1');
  const branch: Branch = { head: [], state: new Map() };
  room.append(branch, '$create', { type: 'm.room.create', stateKey: '', sender: ALICE, content: { room_version: '1', creator: BOB } });
  t.deepEqual(room.build(branch, '$x', member(BOB, 'join')).pdu.prev_events, [['$create', { sha256: 'fake' }]]);
  t.true(allowed(room, branch, member(BOB, 'join')), 'the creator named in content');
  t.false(allowed(room, branch, member(ALICE, 'join')), 'the sender of the create event is not the creator in v1');
});

test('aliases rule (v1-v5 rule 4): state_key must be the sender domain, no membership needed; removed in v6', (t) => {
  const aliases = (stateKey: string): EventSpec => ({ type: 'm.room.aliases', stateKey, sender: CAROL, content: { aliases: ['#x:c.test'] } });
  for (const { version, room, branch } of inEach(['1', '5'], {})) {
    t.true(allowed(room, branch, aliases('c.test')), `v${version}: a non-member's server may list its aliases`);
    t.false(allowed(room, branch, aliases('a.test')), `v${version}: only for its own domain`);
  }
  const [{ room, branch }] = inEach(['6'], {});
  t.false(allowed(room!, branch!, aliases('c.test')), 'v6: an ordinary state event, the sender must be joined');
});

test('redaction rule (v1/v2 rule 11): redact level, or the redacted event id of the redaction event id domain; gone from v3', (t) => {
  for (const { version, room, branch } of inEach(['1', '2', '3'], {}, (room, branch) => room.append(branch, '$carol', member(CAROL, 'join')))) {
    const build = (redacts: string, id: string) => {
      const event = room.build(branch, id, { type: 'm.room.redaction', sender: CAROL, content: {} });
      return { ...event, pdu: { ...event.pdu, redacts } };
    };
    const state = room.stateEvents(branch);
    const foreign = checkEventAuth(build('$msg:a.test', '$redaction:c.test'), state, room.rules).allowed;
    const own = checkEventAuth(build('$msg:c.test', '$redaction:c.test'), state, room.rules).allowed;
    t.is(foreign, version === '3', `v${version}: Carol (power 0) redacting another server's event`);
    t.true(own, `v${version}: an event of the redaction's own domain`);
  }
});

test('power levels rule 9.4-9.5: notifications checked from v6', (t) => {
  const users = { [ALICE]: 100, [BOB]: 50 };
  for (const { version, room, branch } of inEach(['5', '6'], { users, powerLevels: { notifications: { room: 100 } } }, (room, branch) => room.append(branch, '$bob', member(BOB, 'join')))) {
    const lowered = powerLevels(BOB, { users, notifications: { room: 50 } });
    t.is(allowed(room, branch, lowered), version === '5', `v${version}: a moderator changing a notifications level above their own`);
  }
});

test('knocking (v7): the knock membership, the knock join rule letting the invited in, leaving a knock', (t) => {
  for (const { version, room, branch } of inEach(['6', '7'], { joinRule: 'knock' })) {
    const v7 = version === '7';
    t.is(allowed(room, branch, member(BOB, 'knock')), v7, `v${version}: knock`);
    room.append(branch, '$invite-carol', member(CAROL, 'invite', ALICE));
    t.is(allowed(room, branch, member(CAROL, 'join')), v7, `v${version}: an invited user joining a room whose join rule is knock`);
    if (v7) {
      room.append(branch, '$bob-knock', member(BOB, 'knock'));
      t.true(allowed(room, branch, member(BOB, 'leave')), 'v7: retracting a knock');
    }
  }
});

test('restricted joins (v8): the restricted join rule and join_authorised_via_users_server', (t) => {
  for (const { version, room, branch } of inEach(['7', '8'], { joinRule: 'restricted' })) {
    const join = room.build(branch, '$join', member(BOB, 'join', BOB, { join_authorised_via_users_server: ALICE }));
    t.is(checkEventAuth(signedBy(join, 'a.test'), room.stateEvents(branch), room.rules).allowed, version === '8', `v${version}`);
  }
  // Before v8 the property means nothing: a public room's join with it, unsigned by the authoriser, is fine.
  for (const { version, room, branch } of inEach(['7', '8'], { joinRule: 'public' })) {
    t.is(allowed(room, branch, member(BOB, 'join', BOB, { join_authorised_via_users_server: ALICE })), version === '7', `v${version}: unsigned`);
  }
});

test('knock_restricted (v10): knocks and restricted joins', (t) => {
  for (const { version, room, branch } of inEach(['9', '10'], { joinRule: 'knock_restricted' })) {
    t.is(allowed(room, branch, member(BOB, 'knock')), version === '10', `v${version}: knock`);
    const join = room.build(branch, '$join', member(CAROL, 'join', CAROL, { join_authorised_via_users_server: ALICE }));
    t.is(checkEventAuth(signedBy(join, 'a.test'), room.stateEvents(branch), room.rules).allowed, version === '10', `v${version}: restricted join`);
  }
});

test('integer power levels (v10 rules 9.1-9.3): strings are levels before v10 and rejected from v10', (t) => {
  const stringy: JsonObject = { users: { [ALICE]: '100', [BOB]: ' +050 ' }, kick: '50', events: { 'm.room.topic': '10' } };
  for (const { version, room, branch } of inEach(['9', '10'], {})) {
    t.is(allowed(room, branch, powerLevels(ALICE, stringy)), version === '9', `v${version}`);
    t.false(allowed(room, branch, powerLevels(ALICE, { users: { [ALICE]: 100, [BOB]: 'fifty' } })), `v${version}: not an integer at all`);
  }
  // In a v9 room, the stringy levels are applied: Bob (" +050 ") may kick ("50") Carol.
  const room = new TestRoom('9');
  const branch = room.start();
  room.append(branch, '$pl-stringy', powerLevels(ALICE, stringy));
  room.append(branch, '$bob', member(BOB, 'join'));
  room.append(branch, '$carol', member(CAROL, 'join'));
  t.is(getUserPowerLevel(BOB, room.stateEvents(branch), room.rules), 50);
  t.true(allowed(room, branch, member(CAROL, 'leave', BOB)), 'kick at a string level');
  t.false(allowed(room, branch, topic(CAROL, 'no')), 'topic needs "10"');
  // Top-level values are not validated before v10 (only `users`): a v9 event with `ban: "x"` passes.
  t.true(allowed(room, branch, powerLevels(ALICE, { users: { [ALICE]: 100, [BOB]: 50 }, ban: 'x' })));
});

test('floats (v1-v5): a power level of 50.57 is 50', (t) => {
  const room = new TestRoom('5');
  const branch = room.start({ users: { [ALICE]: 100, [BOB]: 50.57 } });
  room.append(branch, '$bob', member(BOB, 'join'));
  t.is(getUserPowerLevel(BOB, room.stateEvents(branch), room.rules), 50);
  t.true(allowed(room, branch, powerLevels(BOB, { users: { [ALICE]: 100, [BOB]: 50.57, [CAROL]: 50 } })), 'Bob may raise Carol to his own 50');
  t.false(allowed(room, branch, powerLevels(BOB, { users: { [ALICE]: 100, [BOB]: 50.57, [CAROL]: 51 } })), 'not above it');
});
