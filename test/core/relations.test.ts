/** The pure relation rules (client-server "Forming relationships between events" and the relation modules). */
import test from 'ava';
import { isValidReplacement, newerReplacement, relationOf, relationRefusal } from '../../src/core/relations.js';
import type { Pdu } from '../../src/core/types.js';

const pdu = (over: Partial<Pdu>): Pdu =>
  ({ type: 'm.room.message', sender: '@a:x', content: { body: 'hi' }, room_id: '!r:x', origin_server_ts: 1, depth: 1, prev_events: [], auth_events: [], hashes: { sha256: '' }, signatures: {}, ...over }) as Pdu;

test('relationOf reads rel_type, event_id and an annotation key; anything off-schema is no relation', (t) => {
  t.deepEqual(relationOf({ 'm.relates_to': { rel_type: 'm.thread', event_id: '$root' } }), { relType: 'm.thread', eventId: '$root' });
  t.deepEqual(relationOf({ 'm.relates_to': { rel_type: 'm.annotation', event_id: '$e', key: '👍' } }), { relType: 'm.annotation', eventId: '$e', key: '👍' });
  t.deepEqual(relationOf({ 'm.relates_to': { rel_type: 'm.reference', event_id: '$e', key: 'ignored' } }), { relType: 'm.reference', eventId: '$e' });
  for (const relatesTo of [undefined, null, 'x', [], { event_id: '$e' }, { rel_type: '', event_id: '$e' }, { rel_type: 'm.thread', event_id: 5 }, { rel_type: 'm.thread', event_id: 'e' }, { 'm.in_reply_to': { event_id: '$e' } }]) {
    t.is(relationOf(relatesTo === undefined ? {} : { 'm.relates_to': relatesTo as never }), undefined, JSON.stringify(relatesTo));
  }
});

test('relationRefusal: other rooms, and threads off an event that is itself a child', (t) => {
  const thread = { relType: 'm.thread', eventId: '$p' };
  t.is(relationRefusal(thread, pdu({}), '!r:x', '!r:x'), undefined);
  t.regex(relationRefusal(thread, pdu({}), '!other:x', '!r:x')!, /same room/);
  const child = pdu({ content: { body: 'r', 'm.relates_to': { rel_type: 'm.thread', event_id: '$root' } } });
  t.regex(relationRefusal(thread, child, '!r:x', '!r:x')!, /relation/);
  t.is(relationRefusal({ relType: 'm.annotation', eventId: '$p', key: 'k' }, child, '!r:x', '!r:x'), undefined, 'reacting to a thread reply is fine');
  const replyOnly = pdu({ content: { body: 'r', 'm.relates_to': { 'm.in_reply_to': { event_id: '$x' } } } });
  t.is(relationRefusal(thread, replyOnly, '!r:x', '!r:x'), undefined, 'a plain reply may start a thread');
});

test('isValidReplacement: same sender and type, no state, not an edit of an edit, m.new_content unless encrypted', (t) => {
  const original = pdu({});
  const edit = (over: Partial<Pdu> = {}, content: Record<string, unknown> = { 'm.new_content': { body: 'x' } }) => pdu({ content: content as never, ...over });
  t.true(isValidReplacement(original, edit()));
  t.false(isValidReplacement(original, edit({ sender: '@b:x' })));
  t.false(isValidReplacement(original, edit({ type: 'm.sticker' })));
  t.false(isValidReplacement(pdu({ state_key: '' }), edit()));
  t.false(isValidReplacement(original, edit({}, { body: 'no new content' })));
  t.true(isValidReplacement(pdu({ type: 'm.room.encrypted' }), edit({ type: 'm.room.encrypted' }, { ciphertext: 'x' })));
  t.false(isValidReplacement(pdu({ content: { 'm.relates_to': { rel_type: 'm.replace', event_id: '$o' } } }), edit()));
});

test('newerReplacement: later origin_server_ts wins, ties to the larger event id', (t) => {
  const a = { eventId: '$a', originServerTs: 10 };
  const b = { eventId: '$b', originServerTs: 9 };
  const c = { eventId: '$c', originServerTs: 10 };
  t.is(newerReplacement(a, b), a);
  t.is(newerReplacement(b, a), a);
  t.is(newerReplacement(a, c), c);
  t.is(newerReplacement(c, a), c);
});
