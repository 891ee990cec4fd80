import test from 'ava';
import type { RoomEvent } from '../../src/core/types.js';
import { checkAuthEventsList, selectAuthEvents } from '../../src/state/auth-events.js';
import { ALICE, BOB, CAROL, TestRoom, member, topic } from './room-builder.js';

function eventsOf(room: TestRoom, ids: string[]): RoomEvent[] {
  return ids.map((id) => room.events.get(id) as RoomEvent);
}

test('selection: create (v11 only), power levels, sender; for joins the target and join rules', (t) => {
  for (const [version, create] of [['11', ['$create']], ['12', []]] as const) {
    const room = new TestRoom(version);
    const branch = room.start();
    const state = room.stateEvents(branch);
    t.deepEqual(selectAuthEvents('m.room.topic', '', ALICE, {}, state, room.rules), [...create, '$pl', '$alice'], `v${version} topic`);
    t.deepEqual(
      selectAuthEvents('m.room.member', BOB, BOB, { membership: 'join' }, state, room.rules),
      [...create, '$pl', '$jr'],
      `v${version} join`,
    );
  }
});

test('selection: kicks have no join rules; restricted joins add the authoriser; 3pid invites the token', (t) => {
  const room = new TestRoom('11');
  const branch = room.start();
  room.append(branch, '$bob', member(BOB, 'join'));
  room.append(branch, '$3pid', { type: 'm.room.third_party_invite', stateKey: 'tok', sender: ALICE, content: {} });
  const state = room.stateEvents(branch);
  t.deepEqual(selectAuthEvents('m.room.member', BOB, ALICE, { membership: 'leave' }, state, room.rules), ['$create', '$pl', '$alice', '$bob']);
  t.deepEqual(
    selectAuthEvents('m.room.member', CAROL, CAROL, { membership: 'join', join_authorised_via_users_server: BOB }, state, room.rules),
    ['$create', '$pl', '$jr', '$bob'],
  );
  t.deepEqual(
    selectAuthEvents('m.room.member', CAROL, ALICE, { membership: 'invite', third_party_invite: { signed: { token: 'tok' } } }, state, room.rules),
    ['$create', '$pl', '$alice', '$jr', '$3pid'],
  );
  t.deepEqual(selectAuthEvents('m.room.create', '', ALICE, {}, state, room.rules), []);
});

test('auth events list: duplicates, unexpected entries, missing create (v11), create present (v12), other rooms', (t) => {
  const v11 = new TestRoom('11');
  const branch = v11.start();
  const event = v11.build(branch, '$t', topic(ALICE, 'x'));
  t.true(checkAuthEventsList(event, eventsOf(v11, ['$create', '$pl', '$alice']), v11.rules).allowed);
  t.false(checkAuthEventsList(event, eventsOf(v11, ['$create', '$pl', '$pl']), v11.rules).allowed, 'duplicate');
  t.false(checkAuthEventsList(event, eventsOf(v11, ['$create', '$pl', '$jr']), v11.rules).allowed, 'join rules for a topic');
  t.false(checkAuthEventsList(event, eventsOf(v11, ['$pl', '$alice']), v11.rules).allowed, 'no create');
  const foreignPl = { ...(v11.events.get('$pl') as RoomEvent), room_id: '!other:a.test' };
  t.false(checkAuthEventsList(event, [v11.events.get('$create') as RoomEvent, foreignPl], v11.rules).allowed, 'other room');

  const v12 = new TestRoom('12');
  const branch12 = v12.start();
  const event12 = v12.build(branch12, '$t', topic(ALICE, 'x'));
  t.true(checkAuthEventsList(event12, eventsOf(v12, ['$pl', '$alice']), v12.rules).allowed);
  t.false(checkAuthEventsList(event12, eventsOf(v12, ['$create', '$pl', '$alice']), v12.rules).allowed, 'v12 forbids create');
});
