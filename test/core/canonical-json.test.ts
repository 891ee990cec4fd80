import test from 'ava';
import { CanonicalJsonError, canonicalJson } from '../../src/core/canonical-json.js';

// appendices "Canonical JSON" > "Examples", every one, input parsed from the spec's JSON text.
const APPENDIX_EXAMPLES: Array<[input: string, canonical: string]> = [
  ['{}', '{}'],
  ['{\n    "one": 1,\n    "two": "Two"\n}', '{"one":1,"two":"Two"}'],
  ['{\n    "b": "2",\n    "a": "1"\n}', '{"a":"1","b":"2"}'],
  ['{"b":"2","a":"1"}', '{"a":"1","b":"2"}'],
  [
    `{"auth": {"success": true, "mxid": "@john.doe:example.com", "profile": {"display_name": "John Doe",
      "three_pids": [{"medium": "email", "address": "john.doe@example.org"},
                     {"medium": "msisdn", "address": "123456789"}]}}}`,
    '{"auth":{"mxid":"@john.doe:example.com","profile":{"display_name":"John Doe","three_pids":[{"address":"john.doe@example.org","medium":"email"},{"address":"123456789","medium":"msisdn"}]},"success":true}}',
  ],
  ['{"a": "日本語"}', '{"a":"日本語"}'],
  ['{"本": 2, "日": 1}', '{"日":1,"本":2}'],
  ['{"a": "\\u65E5"}', '{"a":"日"}'],
  ['{"a": null}', '{"a":null}'],
  ['{"a": -0, "b": 1e10}', '{"a":0,"b":10000000000}'],
];

for (const [index, [input, canonical]] of APPENDIX_EXAMPLES.entries()) {
  test(`appendix example ${index + 1}: ${canonical}`, (t) => {
    t.is(canonicalJson(JSON.parse(input)), canonical);
  });
}

test('escapes only what the grammar requires, lower-case hex, U+2028/U+2029 and DEL raw', (t) => {
  const value = { s: '"\\\b\f\n\r\t\u0000\u001f\u000b\u007f\u2028\u2029/é😀' };
  t.is(canonicalJson(value), '{"s":"\\"\\\\\\b\\f\\n\\r\\t\\u0000\\u001f\\u000b\u007f\u2028\u2029/é😀"}');
});

test('sorts keys by codepoint, not by UTF-16 code unit', (t) => {
  // U+FF61 is one code unit 0xFF61; U+1F600 is the surrogate pair D83D DE00. By code unit the
  // emoji sorts first, by codepoint it sorts last.
  t.is(canonicalJson({ '\u{1F600}': 1, '\uFF61': 2, a: 3 }), '{"a":3,"\uFF61":2,"\u{1F600}":1}');
});

test('sorts nested objects and keeps array order', (t) => {
  t.is(canonicalJson({ z: [3, 1, { y: true, x: false }], a: {} }), '{"a":{},"z":[3,1,{"x":false,"y":true}]}');
});

test('accepts the integer bounds exactly', (t) => {
  t.is(canonicalJson([9007199254740991, -9007199254740991]), '[9007199254740991,-9007199254740991]');
});

test('rejects what canonical JSON cannot carry', (t) => {
  for (const bad of [1.5, NaN, Infinity, -Infinity, 9007199254740992, -9007199254740992]) {
    t.throws(() => canonicalJson({ n: bad }), { instanceOf: CanonicalJsonError }, String(bad));
  }
  t.throws(() => canonicalJson({ s: 'lone \uD800 surrogate' }), { instanceOf: CanonicalJsonError });
  t.throws(() => canonicalJson({ ['\uDC00']: 1 }), { instanceOf: CanonicalJsonError });
  t.throws(() => canonicalJson([undefined]), { instanceOf: CanonicalJsonError });
  t.throws(() => canonicalJson({ d: new Date(0) }), { instanceOf: CanonicalJsonError });
  t.throws(() => canonicalJson({ b: new Uint8Array(1) }), { instanceOf: CanonicalJsonError });
  t.throws(() => canonicalJson({ n: 1n }), { instanceOf: CanonicalJsonError });
});

test('skips object members whose value is undefined, like an absent optional field', (t) => {
  t.is(canonicalJson({ a: 1, state_key: undefined }), '{"a":1}');
});

test('accepts null-prototype objects', (t) => {
  const object = Object.create(null) as Record<string, number>;
  object.b = 2;
  object.a = 1;
  t.is(canonicalJson(object), '{"a":1,"b":2}');
});

test('errors name the path to the offending value', (t) => {
  const error = t.throws(() => canonicalJson({ content: { values: [1, 2, 2.5] } }), { instanceOf: CanonicalJsonError });
  t.deepEqual(error?.path, ['content', 'values', 2]);
  t.is(error?.message, 'content.values.2: 2.5 is not an integer');
});
