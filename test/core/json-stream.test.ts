/**
 * The incremental JSON reader of a big answer (`core/json-stream.ts`): whatever the chunking, it
 * hands over what `JSON.parse` of the whole text would give, judges each value as the body parser
 * does, and never holds a value larger than its cap.
 */
import test from 'ava';
import { JsonObjectStream, JsonStreamError, type JsonStreamItem, type JsonStreamOptions } from '../../src/core/json-stream.js';
import { MAX_JSON_DEPTH } from '../../src/core/json-text.js';

const OPTS: JsonStreamOptions = { arrays: ['state', 'auth_chain'], maxElementBytes: 1024, maxMemberBytes: 4096 };

function read(chunks: Uint8Array[], opts: JsonStreamOptions = OPTS): JsonStreamItem[] {
  const reader = new JsonObjectStream(opts);
  const items: JsonStreamItem[] = [];
  for (const chunk of chunks) items.push(...reader.push(chunk));
  reader.end();
  return items;
}

const bytes = (text: string) => Buffer.from(text, 'utf8');

/** The document rebuilt from the items: arrays from their elements, the rest as members. */
function rebuild(items: JsonStreamItem[], arrays: readonly string[] = OPTS.arrays, present: readonly string[] = arrays): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of present) out[key] = [];
  for (const item of items) {
    if (item.kind === 'element') (out[item.key] as unknown[]).push(item.value);
    else out[item.key] = item.value;
  }
  return out;
}

/** Small but covering: escapes, "state" inside strings, brackets in strings, nesting, non-ASCII, literals. */
const DOC = JSON.stringify({
  origin: 'a "state": [ {not} ] \\ é',
  state: [{ type: 'm.room.create', content: { s: '}]"[{', n: [1, [2, [3]]], e: '\u00e9😀\\"' } }, 'text', 12, -3, true, null, [], {}],
  members_omitted: false,
  'odd \"key\"': { state: [1, 2] },
  auth_chain: [{ a: 1 }],
  servers_in_room: ['a.example', 'b.example'],
}).replace('"auth_chain"', '\n "auth_\\u0063hain" ');

test('the whole document in one chunk gives what JSON.parse gives', (t) => {
  const items = read([bytes(DOC)]);
  t.deepEqual(rebuild(items), JSON.parse(DOC));
  t.deepEqual(items.filter((i) => i.kind === 'element' && i.key === 'state').map((i) => (i as { index: number }).index), [0, 1, 2, 3, 4, 5, 6, 7]);
});

test('a chunk boundary at every byte position gives the same items', (t) => {
  const whole = bytes(DOC);
  const expected = read([whole]);
  for (let at = 0; at <= whole.length; at++) {
    t.deepEqual(read([whole.subarray(0, at), whole.subarray(at)]), expected, `split at ${at}`);
  }
  // And one byte at a time (multi-byte characters split everywhere).
  t.deepEqual(read([...whole].map((b) => Uint8Array.of(b))), expected);
  // And three random-ish cuts.
  for (let a = 1; a < whole.length; a += 7) {
    const b = Math.min(whole.length, a + 13);
    t.deepEqual(read([whole.subarray(0, a), whole.subarray(a, b), whole.subarray(b)]), expected);
  }
});

test('items are handed over as soon as they are complete, not at the end', (t) => {
  const reader = new JsonObjectStream(OPTS);
  t.deepEqual(reader.push(bytes('{"state": [{"a": 1}, {"b"')), [{ kind: 'element', key: 'state', index: 0, value: { a: 1 }, nonIntegerLiteral: false }]);
  t.deepEqual(reader.push(bytes(': 2}')), [{ kind: 'element', key: 'state', index: 1, value: { b: 2 }, nonIntegerLiteral: false }]);
  t.deepEqual(reader.push(bytes(', 7')), [], 'a number may go on in the next chunk');
  t.deepEqual(reader.push(bytes('5]')), [{ kind: 'element', key: 'state', index: 2, value: 75, nonIntegerLiteral: false }]);
  t.deepEqual(reader.push(bytes(', "origin": "x"}  \n')), [{ kind: 'member', key: 'origin', value: 'x', nonIntegerLiteral: false }]);
  reader.end();
});

test('escaped keys are read as keys; "state" inside a string or a nested object is not the array', (t) => {
  const items = read([bytes('{"x": "\\"state\\": [", "y": {"state": [1]}, "st\\u0061te": [5], "auth_chain": []}')]);
  t.deepEqual(items, [
    { kind: 'member', key: 'x', value: '"state": [', nonIntegerLiteral: false },
    { kind: 'member', key: 'y', value: { state: [1] }, nonIntegerLiteral: false },
    { kind: 'element', key: 'state', index: 0, value: 5, nonIntegerLiteral: false },
  ]);
  t.deepEqual(read([bytes('{"s": "a\\\\", "state": ["\\\\\\"]"]}')]).at(-1), { kind: 'element', key: 'state', index: 0, value: '\\"]', nonIntegerLiteral: false });
});

test('empty arrays, an empty object and whitespace everywhere', (t) => {
  t.deepEqual(read([bytes('{}')]), []);
  t.deepEqual(read([bytes(' \r\n\t{ "state" : [ ] , "auth_chain":[\n] } \n')]), []);
  t.deepEqual(read([bytes('\u{feff}{"state":[1]}')]).length, 1, 'a leading byte order mark is allowed');
  t.deepEqual(read([bytes('{"state":[ 1 , "2" ,{"3":3} ] }')]).map((i) => i.value), [1, '2', { 3: 3 }]);
});

test('float literals are reported per value (the PDU checks see parsed numbers only)', (t) => {
  const items = read([bytes('{"state":[{"a":1.0},{"a":1}], "event": {"x": 2e3}}')]);
  t.deepEqual(items.map((i) => i.nonIntegerLiteral), [true, false, true]);
});

const refuses = (t: import('ava').ExecutionContext, chunks: string | Uint8Array[], pattern: RegExp, opts: JsonStreamOptions = OPTS) => {
  const list = typeof chunks === 'string' ? [bytes(chunks)] : chunks;
  const err = t.throws(() => read(list, opts), { instanceOf: JsonStreamError });
  t.regex(err?.message ?? '', pattern, typeof chunks === 'string' ? chunks : '(bytes)');
};

test('malformed documents are refused with a reason', (t) => {
  refuses(t, '', /ends before/);
  refuses(t, '[1]', /not an object/);
  refuses(t, '"state"', /not an object/);
  refuses(t, '{"state" [1]}', /expected ':'/);
  refuses(t, '{"state": [1] "origin": "x"}', /expected ',' or '}'/);
  refuses(t, '{"state": [1 2]}', /expected ',' or '\]'/);
  refuses(t, '{"state": [1,]}', /expected a value/);
  refuses(t, '{"state": [,1]}', /expected a value/);
  refuses(t, '{,}', /expected a key/);
  refuses(t, '{"a": 1,}', /expected a key/);
  refuses(t, "{'a': 1}", /expected a key/);
  refuses(t, '{"state": {"a": 1}}', /"state" is not an array/);
  refuses(t, '{"state": 5}', /"state" is not an array/);
  refuses(t, '{"state": [{"a": }]}', /element 0 of "state" is not JSON/);
  refuses(t, '{"state": [{"a": 1}}]}', /not JSON|expected/);
  refuses(t, '{"state": [tru]}', /not JSON/);
  refuses(t, '{"state": [01]}', /not JSON/);
  refuses(t, '{"state": ["a\tb"]}', /not JSON/, OPTS);
  refuses(t, '{"origin": undefined}', /expected a value/);
  refuses(t, '{"state": [1], "state": [2]}', /appears twice/);
  refuses(t, '{"state": [1]', /ends before/);
  refuses(t, '{"state": [{"a": "b', /ends before/);
  refuses(t, '{"members_omitted": fals', /ends before/);
  refuses(t, '{"state": []} x', /more data after/);
  refuses(t, '{"state": []}{}', /more data after/);
  refuses(t, '{"state": [], "event": {"a": "\\ud800"}}', /lone surrogate/);
  refuses(t, '{"\\ud800": 1}', /lone surrogate/);
  refuses(t, '{"a\u0001": 1}', /not a JSON string/);
});

test('bytes that are not UTF-8 are refused, in values, keys and between them', (t) => {
  refuses(t, [bytes('{"state": ["a'), Uint8Array.of(0xff), bytes('"]}')], /element 0 of "state" is not UTF-8/);
  refuses(t, [bytes('{"st'), Uint8Array.of(0xc3, 0x28), bytes('": 1}')], /key is not UTF-8/);
  refuses(t, [bytes('{"state": []'), Uint8Array.of(0xc3, 0xa9), bytes('}')], /expected ','/);
  refuses(t, [Uint8Array.of(0xef, 0xbb), bytes('{}')], /not UTF-8/);
  // A character split between chunks is fine.
  const e = bytes('{"state": ["é"]}');
  t.deepEqual(read([e.subarray(0, 13), e.subarray(13)]).map((i) => i.value), ['é']);
});

test('nesting is counted from the top-level object, as for a whole body', (t) => {
  const nested = (levels: number) => '['.repeat(levels) + ']'.repeat(levels);
  // The object is level 1, "state" level 2, so an element may be MAX_JSON_DEPTH - 2 levels deep.
  t.is(read([bytes(`{"state": [${nested(MAX_JSON_DEPTH - 2)}]}`)]).length, 1);
  refuses(t, `{"state": [${nested(MAX_JSON_DEPTH - 1)}]}`, /deeper than/);
  t.is(read([bytes(`{"event": ${nested(MAX_JSON_DEPTH - 1)}}`)]).length, 1);
  refuses(t, `{"event": ${nested(MAX_JSON_DEPTH)}}`, /deeper than/);
  // A deep document within the size cap is judged, not walked: no stack overflow.
  refuses(t, `{"event": ${nested(2000)}}`, /deeper than/, { ...OPTS, maxMemberBytes: 10_000 });
});

test('an element larger than the cap fails the read before it is buffered whole', (t) => {
  const cap = OPTS.maxElementBytes;
  const exact = JSON.stringify('x'.repeat(cap - 2));
  t.is(read([bytes(`{"state": [${exact}]}`)]).length, 1, 'exactly the cap is fine');
  refuses(t, `{"state": [${JSON.stringify('x'.repeat(cap - 1))}]}`, /element of "state" \(index 0\) is larger than 1024 bytes/);
  refuses(t, `{"state": [${'1'.repeat(cap + 1)}]}`, /larger than/);
  refuses(t, `{"servers_in_room": [${'"a",'.repeat(2000)}"b"]}`, /value of "servers_in_room" is larger than 4096/);

  // An endless element: the reader throws once the cap is passed, whatever keeps coming.
  const reader = new JsonObjectStream(OPTS);
  reader.push(bytes('{"state": [{"a": "'));
  let pushed = 0;
  const err = t.throws(() => {
    for (;;) {
      reader.push(bytes('y'.repeat(100)));
      pushed += 100;
    }
  });
  t.true(pushed <= cap, `threw after ${pushed} bytes`);
  t.regex(err!.message, /larger than/);
  t.throws(() => reader.push(bytes('"}]}')), { message: err!.message }, 'and stays failed');
  t.throws(() => reader.end(), { message: err!.message });
});

test('a key longer than its cap fails', (t) => {
  refuses(t, `{"${'k'.repeat(2000)}": 1}`, /key is longer than 1024/);
});

test('a big answer: thousands of elements read in socket-sized chunks', (t) => {
  const member = (i: number) => ({ type: 'm.room.member', state_key: `@u${i}:example.org`, content: { membership: 'join', displayname: `User ${i} ✓` }, auth_events: ['$a', '$b'] });
  const doc = { state: Array.from({ length: 3000 }, (_, i) => member(i)), auth_chain: [member(-1)], origin: 'example.org', event: member(-2) };
  const whole = bytes(JSON.stringify(doc));
  const chunks: Uint8Array[] = [];
  for (let at = 0; at < whole.length; at += 16_384) chunks.push(whole.subarray(at, at + 16_384));
  t.deepEqual(rebuild(read(chunks)), doc);
});
