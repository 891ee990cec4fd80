import test from 'ava';
import type { RoomEvent } from '../../src/core/types.js';
import { generateSigningKey, signJson } from '../../src/core/signing.js';
import { encodeUnpaddedBase64 } from '../../src/core/base64.js';
import { checkEventAuth } from '../../src/state/auth-rules.js';
import type { Branch, EventSpec } from './room-builder.js';
import { ALICE, BOB, CAROL, DAVE, TestRoom, joinRules, member, powerLevels, topic } from './room-builder.js';

/** The verdict for an event built on `branch`, checked against the branch's state. */
function verdict(room: TestRoom, branch: Branch, spec: EventSpec, id = '$candidate') {
  return checkEventAuth(room.build(branch, id, spec), room.stateEvents(branch), room.rules);
}

function allowed(room: TestRoom, branch: Branch, spec: EventSpec): boolean {
  return verdict(room, branch, spec).allowed;
}

const createSpec = (content: Record<string, string | string[]>): EventSpec => ({
  type: 'm.room.create',
  stateKey: '',
  sender: ALICE,
  content,
});

// --- Rule 1: m.room.create ---

test('v10 create needs content.creator; v11 does not', (t) => {
  const v10 = new TestRoom('10');
  const v11 = new TestRoom('11');
  const empty: Branch = { head: [], state: new Map() };
  t.false(allowed(v10, empty, createSpec({ room_version: '10' })));
  t.true(allowed(v10, empty, createSpec({ room_version: '10', creator: ALICE })));
  t.true(allowed(v11, empty, createSpec({ room_version: '11' })));
});

test('create: prev_events, foreign room id domain and unknown room_version are rejected', (t) => {
  const room = new TestRoom('11');
  t.false(allowed(room, { head: ['$x'], state: new Map() }, createSpec({})));
  t.false(allowed(room, { head: [], state: new Map() }, createSpec({ room_version: '99' })));
  const create = room.build({ head: [], state: new Map() }, '$c', createSpec({}));
  const foreign: RoomEvent = { ...create, room_id: '!room:elsewhere.test', pdu: { ...create.pdu, room_id: '!room:elsewhere.test' } };
  t.false(checkEventAuth(foreign, new Map(), room.rules).allowed);
});

test('v12 create: no room_id, additional_creators must be user ids', (t) => {
  const room = new TestRoom('12');
  const empty: Branch = { head: [], state: new Map() };
  t.true(allowed(room, empty, createSpec({ room_version: '12', additional_creators: [BOB] })));
  t.false(allowed(room, empty, createSpec({ additional_creators: ['bob'] })));
  const create = room.build(empty, '$c', createSpec({}));
  const withRoomId: RoomEvent = { ...create, pdu: { ...create.pdu, room_id: '!c' } };
  t.false(checkEventAuth(withRoomId, new Map(), room.rules).allowed);
});

test('v12: an event whose room id does not name the create event is rejected', (t) => {
  const room = new TestRoom('12');
  const branch = room.start();
  const event = room.build(branch, '$t', topic(ALICE, 'x'));
  t.true(checkEventAuth(event, room.stateEvents(branch), room.rules).allowed);
  t.false(checkEventAuth({ ...event, room_id: '!other' }, room.stateEvents(branch), room.rules).allowed);
});

test('an event without a create event in its auth state is rejected', (t) => {
  const room = new TestRoom('11');
  const branch = room.start();
  const state = room.stateEvents(branch);
  state.delete('m.room.create\u0000');
  t.false(checkEventAuth(room.build(branch, '$t', topic(ALICE, 'x')), state, room.rules).allowed);
});

test('m.federate false keeps other servers out', (t) => {
  const room = new TestRoom('11');
  const branch = room.start({ createContent: { 'm.federate': false } });
  t.false(allowed(room, branch, member(BOB, 'join')));
  t.true(allowed(room, branch, member('@alice2:a.test', 'join')));
});

// --- Rule 4.3: join ---

test('the first join after the create event: content.creator in v10, the sender from v11', (t) => {
  for (const [version, expectAlice] of [['10', false], ['11', true]] as const) {
    const room = new TestRoom(version);
    const branch: Branch = { head: [], state: new Map() };
    // v10 names Bob as creator in content although Alice sends the create event.
    room.append(branch, '$create', createSpec({ room_version: version, creator: BOB }));
    t.is(allowed(room, branch, member(ALICE, 'join')), expectAlice, `v${version} alice`);
    t.is(allowed(room, branch, member(BOB, 'join')), !expectAlice, `v${version} bob`);
  }
});

test('joins: public allows anyone, invite-only only the invited, never on behalf of others', (t) => {
  const room = new TestRoom('11');
  const open = room.start({ joinRule: 'public' });
  t.true(allowed(room, open, member(BOB, 'join')));
  t.false(allowed(room, open, member(BOB, 'join', CAROL)));

  const closedRoom = new TestRoom('11');
  const branch = closedRoom.start({ joinRule: 'invite' });
  t.false(allowed(closedRoom, branch, member(BOB, 'join')));
  closedRoom.append(branch, '$invite', member(BOB, 'invite', ALICE));
  t.true(allowed(closedRoom, branch, member(BOB, 'join')));
});

test('a banned user cannot join a public room', (t) => {
  const room = new TestRoom('11');
  const branch = room.start();
  room.append(branch, '$ban', member(BOB, 'ban', ALICE));
  const result = verdict(room, branch, member(BOB, 'join'));
  t.deepEqual(result, { allowed: false, reason: 'sender is banned' });
});

test('knock join rules: knock lets the invited join; knock and knock_restricted accept knocks, public does not', (t) => {
  for (const rule of ['knock', 'knock_restricted']) {
    const room = new TestRoom('10');
    const branch = room.start({ joinRule: rule });
    t.true(allowed(room, branch, member(BOB, 'knock')), rule);
    t.false(allowed(room, branch, member(BOB, 'knock', CAROL)), `${rule}: knock for another`);
  }
  const room = new TestRoom('10');
  const branch = room.start({ joinRule: 'knock' });
  t.false(allowed(room, branch, member(BOB, 'join')));
  room.append(branch, '$invite', member(BOB, 'invite', ALICE));
  t.false(allowed(room, branch, member(BOB, 'knock')), 'already invited');
  t.true(allowed(room, branch, member(BOB, 'join')));
  const publicRoom = new TestRoom('10');
  t.false(allowed(publicRoom, publicRoom.start({ joinRule: 'public' }), member(BOB, 'knock')));
});

test('restricted joins need a joined authorising user who can invite, and its server signature', (t) => {
  const room = new TestRoom('11');
  const branch = room.start({ joinRule: 'restricted', powerLevels: { invite: 50 } });
  const viaAlice = member(BOB, 'join', BOB, { join_authorised_via_users_server: ALICE });
  const signed = (spec: EventSpec, server: string) => {
    const event = room.build(branch, '$join', spec);
    return { ...event, pdu: { ...event.pdu, signatures: { [server]: { 'ed25519:k': 'sig' } } } };
  };
  const state = room.stateEvents(branch);
  t.true(checkEventAuth(signed(viaAlice, 'a.test'), state, room.rules).allowed);
  t.false(checkEventAuth(signed(viaAlice, 'b.test'), state, room.rules).allowed, 'not signed by a.test');
  t.false(allowed(room, branch, member(BOB, 'join')), 'no authorising user');

  room.append(branch, '$carol', { ...member(CAROL, 'invite', ALICE) });
  room.append(branch, '$carol-join', member(CAROL, 'join'));
  const viaCarol = member(BOB, 'join', BOB, { join_authorised_via_users_server: CAROL });
  t.false(checkEventAuth(signed(viaCarol, 'c.test'), room.stateEvents(branch), room.rules).allowed, 'carol is below invite level');
  const viaDave = member(BOB, 'join', BOB, { join_authorised_via_users_server: DAVE });
  t.false(checkEventAuth(signed(viaDave, 'd.test'), room.stateEvents(branch), room.rules).allowed, 'dave is not joined');
});

test('knock_restricted also admits restricted joins', (t) => {
  const room = new TestRoom('10');
  const branch = room.start({ joinRule: 'knock_restricted' });
  const event = room.build(branch, '$join', member(BOB, 'join', BOB, { join_authorised_via_users_server: ALICE }));
  const signedEvent = { ...event, pdu: { ...event.pdu, signatures: { 'a.test': { 'ed25519:k': 'sig' } } } };
  t.true(checkEventAuth(signedEvent, room.stateEvents(branch), room.rules).allowed);
});

// --- Rule 4.4: invite ---

test('invites: sender joined, target not joined or banned, invite level reached', (t) => {
  const room = new TestRoom('11');
  const branch = room.start({ powerLevels: { invite: 50 } });
  t.true(allowed(room, branch, member(BOB, 'invite', ALICE)));
  t.false(allowed(room, branch, member(CAROL, 'invite', BOB)), 'bob is not joined');
  room.append(branch, '$bob', member(BOB, 'join'));
  t.false(allowed(room, branch, member(CAROL, 'invite', BOB)), 'bob is below the invite level');
  t.false(allowed(room, branch, member(BOB, 'invite', ALICE)), 'bob is already joined');
  room.append(branch, '$ban', member(CAROL, 'ban', ALICE));
  t.false(allowed(room, branch, member(CAROL, 'invite', ALICE)), 'carol is banned');
});

test('third-party invites: signed by a key of the m.room.third_party_invite, from its sender', (t) => {
  const room = new TestRoom('11');
  const branch = room.start();
  const identityKey = generateSigningKey();
  room.append(branch, '$3pid', {
    type: 'm.room.third_party_invite',
    stateKey: 'tok',
    sender: ALICE,
    content: { display_name: 'b...', key_validity_url: 'https://id.test/v', public_key: encodeUnpaddedBase64(identityKey.publicKey) },
  });
  const signed = signJson({ mxid: BOB, token: 'tok', sender: ALICE }, 'id.test', identityKey);
  const invite = (sender: string, signedContent: object) =>
    member(BOB, 'invite', sender, { third_party_invite: { display_name: 'b...', signed: signedContent as never } });
  t.true(allowed(room, branch, invite(ALICE, signed)));
  t.false(allowed(room, branch, invite(ALICE, { ...signed, mxid: CAROL })), 'mxid does not match');
  t.false(allowed(room, branch, invite(ALICE, { ...signed, token: 'other' })), 'no such token');
  const forged = signJson({ mxid: BOB, token: 'tok' }, 'id.test', generateSigningKey());
  t.false(allowed(room, branch, invite(ALICE, forged)), 'signed by an unknown key');
  room.append(branch, '$bob', member(BOB, 'join'));
  room.append(branch, '$pl2', powerLevels(ALICE, { users: { [ALICE]: 100 }, invite: 0 }));
  t.false(allowed(room, branch, invite(BOB, signed)), 'bob did not issue the third-party invite');
});

// --- Rules 4.5 and 4.6: leave, kick, ban, unban ---

function roomWithBobAndCarol(version: '10' | '11' | '12', levels: Record<string, number>) {
  const room = new TestRoom(version);
  const users = version === '12' ? levels : { [ALICE]: 100, ...levels };
  const branch = room.start({ users });
  room.append(branch, '$bob', member(BOB, 'join'));
  room.append(branch, '$carol', member(CAROL, 'join'));
  return { room, branch };
}

test('leaving: a member may leave; someone without a membership may not', (t) => {
  const { room, branch } = roomWithBobAndCarol('11', {});
  t.true(allowed(room, branch, member(BOB, 'leave')));
  t.false(allowed(room, branch, member(DAVE, 'leave')));
});

test('kicks need the kick level and a target below the sender', (t) => {
  const { room, branch } = roomWithBobAndCarol('11', { [BOB]: 50, [CAROL]: 50 });
  t.false(allowed(room, branch, member(CAROL, 'leave', BOB)), 'equal levels');
  t.true(allowed(room, branch, member(CAROL, 'leave', ALICE)));
  t.false(allowed(room, branch, member(ALICE, 'leave', BOB)), 'target above sender');
  const low = roomWithBobAndCarol('11', { [BOB]: 40 });
  t.false(allowed(low.room, low.branch, member(CAROL, 'leave', BOB)), 'below the kick level');
});

test('bans need the ban level and a target below; unbanning also needs the ban level', (t) => {
  const { room, branch } = roomWithBobAndCarol('11', { [BOB]: 60 });
  t.true(allowed(room, branch, member(CAROL, 'ban', BOB)));
  t.false(allowed(room, branch, member(ALICE, 'ban', BOB)));
  t.false(allowed(room, branch, member(DAVE, 'ban', CAROL)), 'carol is below the ban level');
  room.append(branch, '$ban', member(DAVE, 'ban', ALICE));
  room.append(branch, '$pl2', powerLevels(ALICE, { users: { [ALICE]: 100, [BOB]: 60 }, ban: 70, kick: 50 }));
  t.false(allowed(room, branch, member(DAVE, 'leave', BOB)), 'bob reaches kick but not ban');
  t.true(allowed(room, branch, member(DAVE, 'leave', ALICE)));
  t.false(allowed(room, branch, member(DAVE, 'leave')), 'the banned cannot leave by themselves');
});

test('unknown memberships are rejected', (t) => {
  const room = new TestRoom('11');
  const branch = room.start();
  t.deepEqual(verdict(room, branch, member(ALICE, 'wave')), { allowed: false, reason: 'unknown membership wave' });
});

// --- Rules 5-8: everything else ---

test('non-members cannot send; state needs state_default; events overrides', (t) => {
  const room = new TestRoom('11');
  const branch = room.start({ powerLevels: { events: { 'm.room.name': 0, 'm.reaction': 10 } } });
  const message = { type: 'm.room.message', sender: BOB, content: { body: 'hi' } };
  t.false(allowed(room, branch, message), 'not joined');
  room.append(branch, '$bob', member(BOB, 'join'));
  t.true(allowed(room, branch, message));
  t.false(allowed(room, branch, topic(BOB, 'x')), 'state_default 50');
  t.true(allowed(room, branch, { type: 'm.room.name', stateKey: '', sender: BOB, content: { name: 'n' } }));
  t.false(allowed(room, branch, { type: 'm.reaction', sender: BOB, content: {} }));
  t.true(allowed(room, branch, topic(ALICE, 'x')));
});

test('a state_key naming another user is reserved to that user', (t) => {
  const room = new TestRoom('11');
  const branch = room.start();
  const custom = (stateKeyValue: string) => ({ type: 'org.example.x', stateKey: stateKeyValue, sender: ALICE, content: {} });
  t.true(allowed(room, branch, custom(ALICE)));
  t.false(allowed(room, branch, custom(BOB)));
});

test('m.room.third_party_invite needs the invite level', (t) => {
  const { room, branch } = roomWithBobAndCarol('11', {});
  room.append(branch, '$pl2', powerLevels(ALICE, { users: { [ALICE]: 100 }, invite: 10 }));
  const spec = (sender: string) => ({ type: 'm.room.third_party_invite', stateKey: 't', sender, content: {} });
  t.false(allowed(room, branch, spec(BOB)));
  t.true(allowed(room, branch, spec(ALICE)));
});

test('join rules changes need power; a room without join rules is invite-only', (t) => {
  const room = new TestRoom('11');
  const branch: Branch = { head: [], state: new Map() };
  room.append(branch, '$create', createSpec({ room_version: '11' }));
  room.append(branch, '$alice', member(ALICE, 'join'));
  t.false(allowed(room, branch, member(BOB, 'join')));
  room.append(branch, '$invite', member(BOB, 'invite', ALICE));
  t.true(allowed(room, branch, member(BOB, 'join')));
  room.append(branch, '$bob', member(BOB, 'join'));
  t.false(allowed(room, branch, joinRules(BOB, 'public')));
  t.true(allowed(room, branch, joinRules(ALICE, 'public')));
});
