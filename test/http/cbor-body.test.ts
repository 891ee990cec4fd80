/**
 * MSC3079's CBOR bodies: the MSC's own test vector both ways, what the JSON data model allows and
 * nothing more (hostile bodies refused with M_NOT_JSON / M_BAD_JSON), and answers that read as the
 * JSON a JSON client would get. Responses are decoded with cbor-x, a decoder we did not write.
 */
import test from 'ava';
import { Decoder, Encoder } from 'cbor-x';
import { MatrixError } from '../../src/core/errors.js';
import { decodeCborBody, encodeCborBody } from '../../src/http/low-bandwidth/cbor-body.js';
import { negotiateResponseFormat } from '../../src/http/low-bandwidth/negotiation.js';

// MSC3079 "JSON -> CBOR": the example event, its integer-key form (canonical: keys sorted), and the CBOR.
const MSC_JSON = {
  type: 'm.room.message',
  content: { body: 'Hello World', msgtype: 'm.text' },
  room_id: '!foo:localhost',
  sender: '@alice:localhost',
  unsigned: { bool_value: true, null_value: null },
};
const MSC_CBOR_HEX =
  'a5026e6d2e726f6f6d2e6d65737361676503a2181b6b48656c6c6f20576f726c64181c666d2e74657874056e21666f6f3a6c6f63616c686f7374067040616c6963653a6c6f63616c686f737409a26a626f6f6c5f76616c7565f56a6e756c6c5f76616c7565f6';

const cbor = (hex: string) => Buffer.from(hex.replace(/\s/g, ''), 'hex');
const plain = new Encoder({ useRecords: false, variableMapSize: true, mapsAsObjects: false });
const mapsKept = new Decoder({ mapsAsObjects: false, useRecords: false });

function refusal(t: import('ava').ExecutionContext, body: Uint8Array, errcode: 'M_NOT_JSON' | 'M_BAD_JSON', pattern: RegExp): void {
  const err = t.throws(() => decodeCborBody(body), { instanceOf: MatrixError }) as MatrixError;
  t.is(err?.status, 400);
  t.is(err?.errcode, errcode);
  t.regex(err?.message ?? '', pattern);
}

test('the MSC3079 test vector: integer keys decode to the JSON, and the JSON encodes with integer keys to the same bytes', (t) => {
  const decoded = decodeCborBody(cbor(MSC_CBOR_HEX));
  t.deepEqual(decoded.value, MSC_JSON);
  t.true(decoded.usedIntegerKeys);
  t.false(decoded.nonIntegerNumber);
  t.is(encodeCborBody(MSC_JSON, true).toString('hex'), MSC_CBOR_HEX);
});

test('without integer keys the answer is the JSON document, member for member', (t) => {
  const document = { next_batch: 's72_4', rooms: { join: {} }, n: -5, big: 2 ** 40, list: [1, 'two', false, null], skipped: undefined };
  const bytes = encodeCborBody(document, false);
  t.deepEqual(new Decoder({ useRecords: false }).decode(bytes), JSON.parse(JSON.stringify(document)));
  // toJSON is honoured and undefined members are left out, as JSON.stringify does.
  const withToJson = { when: { toJSON: () => 'later' }, arr: [undefined, () => 1] };
  t.deepEqual(new Decoder({ useRecords: false }).decode(encodeCborBody(withToJson, false)), { when: 'later', arr: [null, null] });
  const keyed = mapsKept.decode(encodeCborBody({ event_id: '$a', custom: 1, errcode: 'M_X' }, true)) as Map<unknown, unknown>;
  t.deepEqual([...keyed.entries()], [[1, '$a'], ['custom', 1], [102, 'M_X']]);
});

test('a text key beats the same key written as its integer; "8" as text stays "8"; an unknown integer key is refused', (t) => {
  const both = new Map<unknown, unknown>([[27, 'from the integer'], ['body', 'from the text'], ['8', 'literal']]);
  t.deepEqual(decodeCborBody(plain.encode(both)).value, { body: 'from the text', 8: 'literal' });
  refusal(t, plain.encode(new Map([[999, 'x']])), 'M_NOT_JSON', /integer key 999/);
});

test('floats are reported (event content is integers only); integers are not', (t) => {
  t.false(decodeCborBody(plain.encode({ n: 1, m: -70000 })).nonIntegerNumber);
  const half = decodeCborBody(cbor('a1 61 6e f9 3e00')); // {"n": 1.5} as a half-precision float
  t.deepEqual(half.value, { n: 1.5 });
  t.true(half.nonIntegerNumber);
  t.true(decodeCborBody(cbor('a1 61 6e fb 3ff0000000000000')).nonIntegerNumber, '1.0 as a double is still a float');
  refusal(t, cbor('a1 61 6e f9 7e00'), 'M_NOT_JSON', /NaN/);
  refusal(t, cbor('a1 61 6e fa 7f800000'), 'M_NOT_JSON', /Infinity/);
});

test('indefinite lengths, the self-described tag, and __proto__ as a plain member', (t) => {
  // 0xd9d9f7 tag, then {_ "a": [_ 1, 2], "t": (_ "he", "llo")}
  const value = decodeCborBody(cbor('d9d9f7 bf 6161 9f 01 02 ff 6174 7f 626865 636c6c6f ff ff')).value;
  t.deepEqual(value, { a: [1, 2], t: 'hello' });
  const proto = decodeCborBody(cbor('a1 69 5f5f70726f746f5f5f a1 6161 01')).value as Record<string, unknown>;
  t.deepEqual(Object.keys(proto), ['__proto__']);
  t.is(Object.getPrototypeOf(proto), Object.prototype, 'the prototype is untouched');
  t.is((proto as { a?: number }).a, undefined);
});

test('what JSON cannot hold is refused: bytes, tags, undefined, simple values, ill-formed UTF-8, duplicate keys', (t) => {
  refusal(t, cbor('a1 6162 43 010203'), 'M_NOT_JSON', /byte string/);
  refusal(t, cbor('c1 1a 5f000000'), 'M_NOT_JSON', /tag 1/); // an epoch date
  refusal(t, cbor('d9 0105 82 01 02'), 'M_NOT_JSON', /tag 261/);
  refusal(t, cbor('a1 6161 f7'), 'M_NOT_JSON', /undefined/);
  refusal(t, cbor('f0'), 'M_NOT_JSON', /simple value 16/);
  refusal(t, cbor('62 c328'), 'M_NOT_JSON', /UTF-8/);
  refusal(t, cbor('63 eda080'), 'M_NOT_JSON', /UTF-8/); // an encoded lone surrogate
  refusal(t, cbor('a2 6161 01 6161 02'), 'M_NOT_JSON', /"a" written twice/);
  refusal(t, cbor('a2 181b 01 181b 02'), 'M_NOT_JSON', /27 written twice/);
  refusal(t, cbor('a1 a0 01'), 'M_NOT_JSON', /map key/);
});

test('truncated, trailing and lying bodies are refused without reading past the end', (t) => {
  refusal(t, cbor('a2 6161 01'), 'M_NOT_JSON', /ends inside/);
  refusal(t, cbor('9b ffffffffffffffff'), 'M_NOT_JSON', /ends inside/); // claims 2^64 items
  refusal(t, cbor('7a ffffffff 61'), 'M_NOT_JSON', /ends inside/);
  refusal(t, cbor('01 02'), 'M_NOT_JSON', /1 bytes after/);
  refusal(t, cbor('ff'), 'M_NOT_JSON', /break/);
  refusal(t, cbor('1c'), 'M_NOT_JSON', /reserved/);
  refusal(t, cbor('9f 01'), 'M_NOT_JSON', /ends inside/);
});

test('nesting is bounded as for JSON: 100 levels pass, 101 are M_BAD_JSON, a million fail fast', (t) => {
  const nested = (levels: number) => Buffer.concat([Buffer.alloc(levels, 0x81), Buffer.from([0x01])]);
  t.notThrows(() => decodeCborBody(nested(100)));
  refusal(t, nested(101), 'M_BAD_JSON', /deeper than 100/);
  refusal(t, nested(1_000_000), 'M_BAD_JSON', /deeper than 100/);
});

test('negotiation: CBOR for a CBOR body or an Accept that names it; integer keys only when asked', (t) => {
  t.deepEqual(negotiateResponseFormat(undefined, undefined), { cbor: false, integerKeys: false });
  t.deepEqual(negotiateResponseFormat('application/json', undefined), { cbor: false, integerKeys: false });
  t.deepEqual(negotiateResponseFormat('application/json', 'application/cbor'), { cbor: true, integerKeys: false });
  t.deepEqual(negotiateResponseFormat('application/cbor', undefined), { cbor: true, integerKeys: false });
  t.deepEqual(negotiateResponseFormat('application/cbor', '*/*'), { cbor: true, integerKeys: false });
  t.deepEqual(negotiateResponseFormat('application/cbor', 'application/json'), { cbor: false, integerKeys: false }, 'the client limited the answer to JSON');
  t.deepEqual(negotiateResponseFormat(undefined, 'application/json, application/cbor;q=0'), { cbor: false, integerKeys: false });
  t.deepEqual(negotiateResponseFormat(undefined, 'Application/CBOR; cbor_enum_version=1'), { cbor: true, integerKeys: true });
  t.deepEqual(negotiateResponseFormat('application/cbor; cbor_enum_version="1"', undefined), { cbor: true, integerKeys: true });
  t.deepEqual(negotiateResponseFormat('application/cbor', 'application/cbor; cbor_enum_version=0'), { cbor: true, integerKeys: false });
});
