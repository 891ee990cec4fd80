/**
 * What a join keeps of a streamed send_join answer (`membership/send-join-answer.ts`): checked
 * events as compact text, in auth order, essential state refused, the rest dropped one by one.
 */
import test from 'ava';
import { getRoomVersionRules } from '../../src/core/room-versions.js';
import { stateKey, type Pdu, type RoomEvent } from '../../src/core/types.js';
import { SendJoinEvents } from '../../src/federation/membership/send-join-answer.js';

const roomId = '!room:remote.test';

function ev(id: string, type: string, auth: string[], state_key: string | undefined = ''): RoomEvent {
  const pdu = { type, sender: '@rob:remote.test', room_id: roomId, content: { n: id }, auth_events: auth, prev_events: [], depth: 1, origin_server_ts: 1, hashes: { sha256: 'x' }, signatures: {}, ...(state_key !== undefined ? { state_key } : {}) } as unknown as Pdu;
  return { event_id: id, room_id: roomId, pdu };
}

test('auth order puts every event after its auth events, whatever order they came in', (t) => {
  const events = new SendJoinEvents(roomId, getRoomVersionRules('10')!);
  events.addChecked(ev('$member', 'm.room.member', ['$create', '$power', '$join'], '@a:x'), true);
  events.addChecked(ev('$join', 'm.room.join_rules', ['$create', '$power']), true);
  events.addChecked(ev('$power', 'm.room.power_levels', ['$create', '$robjoin']), true);
  events.addChecked(ev('$robjoin', 'm.room.member', ['$create'], '@rob:remote.test'), false);
  events.addChecked(ev('$create', 'm.room.create', []), true);
  events.addChecked(ev('$power', 'm.room.power_levels', ['$create', '$robjoin']), false);
  const order = events.authOrder();
  t.is(order.length, 5, 'an event in both lists is held once');
  const at = (id: string) => order.indexOf(id);
  t.true(at('$create') < at('$robjoin') && at('$robjoin') < at('$power') && at('$power') < at('$join') && at('$join') < at('$member'));
  t.is(events.creator(), '@rob:remote.test');
  t.true(events.isState('$power'), 'in state once listed there');
  t.false(events.isState('$robjoin'));
});

test('rooms/v12: the create event (named by the room id) comes first though no event lists it', (t) => {
  const v12Room = '!createhash';
  const events = new SendJoinEvents(v12Room, getRoomVersionRules('12')!);
  events.addChecked({ ...ev('$power', 'm.room.power_levels', []), room_id: v12Room }, true);
  events.addChecked({ ...ev('$createhash', 'm.room.create', []), room_id: v12Room }, true);
  t.deepEqual(events.authOrder(), ['$createhash', '$power']);
});

test('taking an event gives it back parsed and lets its text go; the state map follows what is left out', (t) => {
  const events = new SendJoinEvents(roomId, getRoomVersionRules('10')!);
  const member = ev('$member', 'm.room.member', ['$create'], '@a:x');
  events.addChecked(ev('$create', 'm.room.create', []), true);
  events.addChecked(member, true);
  t.deepEqual(events.take('$member'), member);
  t.throws(() => events.take('$member'), { message: /not held/ });
  events.leaveOutOfState('$member');
  t.deepEqual([...events.stateMap().entries()], [[stateKey('m.room.create', ''), '$create']]);
  t.is(events.droppedState, 1);
});

test('a failing essential state event refuses the join; a failing member event is only counted', (t) => {
  const events = new SendJoinEvents(roomId, getRoomVersionRules('10')!);
  events.addFailed({ type: 'm.room.member' }, true, 'bad signature: gone.test');
  events.addFailed({ type: 'm.room.power_levels' }, false, 'bad signature: in the auth chain only');
  t.is(events.droppedState, 1);
  for (const type of ['m.room.create', 'm.room.power_levels', 'm.room.join_rules']) {
    t.throws(() => events.addFailed({ type }, true, 'bad signature'), { message: new RegExp(`${type.replace(/\./g, '\\.')} refused: bad signature`) });
  }
  t.deepEqual(events.faults, ['bad signature: gone.test', 'bad signature: in the auth chain only', 'bad signature']);
});
