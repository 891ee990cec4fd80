import test from 'ava';
import type { RoomEvent } from '../../src/core/types.js';
import { redactedEventId, redactionApplies } from '../../src/state/redaction-rules.js';
import { ALICE, BOB, CAROL, TestRoom, member } from './room-builder.js';

/** rooms/v3 "Handling redactions" (v3+) against rooms/v1 auth rule 11 (v1/v2). */
function redaction(room: TestRoom, sender: string, target: string, id: string): RoomEvent {
  const branch = { head: ['$carol'], state: new Map() };
  const event = room.build(branch, id, { type: 'm.room.redaction', sender, content: room.rules.redactsInContent ? { redacts: target } : {} });
  return room.rules.redactsInContent ? event : { ...event, pdu: { ...event.pdu, redacts: target } };
}

function setUp(version: '2' | '3' | '11') {
  const room = new TestRoom(version);
  const base = room.start({ users: { [ALICE]: 100 } });
  room.append(base, '$bob', member(BOB, 'join'));
  room.append(base, '$carol', member(CAROL, 'join'));
  const message = (id: string, sender: string) => {
    const event = room.build(base, id, { type: 'm.room.message', sender, content: { body: 'x' } });
    room.add(event);
    return event;
  };
  return { room, state: room.stateEvents(base), message };
}

test('v3+: applied for the redact level, or a sender of the original sender\'s domain, and nobody else', (t) => {
  for (const version of ['3', '11'] as const) {
    const { room, state, message } = setUp(version);
    const bobs = message('$bobs:b.test', BOB);
    t.true(redactionApplies(redaction(room, ALICE, '$bobs:b.test', '$r1:a.test'), bobs, state, room.rules), `v${version}: Alice has the redact level`);
    t.true(redactionApplies(redaction(room, BOB, '$bobs:b.test', '$r2:b.test'), bobs, state, room.rules), `v${version}: Bob's own`);
    t.false(redactionApplies(redaction(room, CAROL, '$bobs:b.test', '$r3:c.test'), bobs, state, room.rules), `v${version}: Carol, another server, no level`);
    t.false(redactionApplies(redaction(room, ALICE, '$other:b.test', '$r4:a.test'), bobs, state, room.rules), `v${version}: names another event`);
  }
});

test('v1/v2: the auth rules decided, so an accepted redaction of the named event applies', (t) => {
  const { room, state, message } = setUp('2');
  const bobs = message('$bobs:b.test', BOB);
  t.true(redactionApplies(redaction(room, CAROL, '$bobs:b.test', '$r:b.test'), bobs, state, room.rules));
  const foreign = { ...bobs, room_id: '!elsewhere:b.test' };
  t.false(redactionApplies(redaction(room, CAROL, '$bobs:b.test', '$r:b.test'), foreign, state, room.rules), 'another room');
});

test('redactedEventId reads content.redacts from v11 and the top-level redacts before', (t) => {
  const v11 = setUp('11');
  t.is(redactedEventId(redaction(v11.room, ALICE, '$x', '$r').pdu, v11.room.rules), '$x');
  const v3 = setUp('3');
  t.is(redactedEventId(redaction(v3.room, ALICE, '$y', '$r').pdu, v3.room.rules), '$y');
  t.is(redactedEventId({ ...redaction(v3.room, ALICE, '$y', '$r').pdu, content: { redacts: '$z' } }, v3.room.rules), '$y', 'content.redacts means nothing before v11');
});
