import test from 'ava';
import { MAX_JSON_DEPTH, jsonValueRefusal, scanJsonText } from '../../src/core/json-text.js';
import { wellKnownContentRefusal } from '../../src/core/event-content.js';

const nested = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);

test('nesting is counted outside strings and refused past the limit', (t) => {
  t.false(scanJsonText(nested(MAX_JSON_DEPTH)).tooDeep);
  t.true(scanJsonText(nested(MAX_JSON_DEPTH + 1)).tooDeep);
  t.true(scanJsonText(`{"a":${nested(10_000)}}`).tooDeep);
  t.false(scanJsonText(JSON.stringify({ s: '['.repeat(500) })).tooDeep, 'brackets inside a string are text');
  t.false(scanJsonText(JSON.stringify({ s: 'a"b\\\\[[[' })).tooDeep);
});

test('lone surrogates are found, escaped or raw; pairs are fine', (t) => {
  t.false(scanJsonText('{"a":"\\ud83d\\ude00 ok"}').loneSurrogate);
  t.false(scanJsonText('{"a":"😀"}').loneSurrogate);
  t.true(scanJsonText('{"a":"\\ud800"}').loneSurrogate);
  t.true(scanJsonText('{"a":"\\ud800x"}').loneSurrogate);
  t.true(scanJsonText('{"a":"\\udc00"}').loneSurrogate);
  t.true(scanJsonText('{"a":"\\ud800\\ud800\\udc00"}').loneSurrogate, 'a high surrogate followed by a pair');
  t.true(scanJsonText('{"\\ud800":1}').loneSurrogate, 'keys are strings too');
  t.true(scanJsonText('{"a":"\ud800"}').loneSurrogate);
  t.false(scanJsonText('{"a":"\\\\ud800"}').loneSurrogate, 'an escaped backslash, then text');
});

test('float literals are seen in the text, integers and numbers inside strings are not', (t) => {
  for (const text of ['{"a":1.0}', '{"a":1e3}', '[0.5]', '{"a":-2E-1}']) t.true(scanJsonText(text).nonIntegerLiteral, text);
  for (const text of ['{"a":10}', '{"a":-3,"b":"1.5e3"}', '[0, 9007199254740991]']) t.false(scanJsonText(text).nonIntegerLiteral, text);
});

test('parsed values: canonical integers only, bounded depth, valid Unicode', (t) => {
  const strict = { integersOnly: true };
  t.is(jsonValueRefusal({ a: [1, -2, 'x', null, true, { b: 9007199254740991 }] }, strict), undefined);
  t.regex(jsonValueRefusal({ users: { '@a:b': 1.5 } }, strict)!, /users\.@a:b/);
  t.truthy(jsonValueRefusal({ a: 1e30 }, strict));
  t.truthy(jsonValueRefusal({ a: -9007199254740992 }, strict));
  t.is(jsonValueRefusal({ a: 1.5 }, { integersOnly: false }), undefined, 'room versions 1-5 take floats');
  t.truthy(jsonValueRefusal({ a: Number.NaN }, { integersOnly: false }));
  t.truthy(jsonValueRefusal({ a: 'x\ud800' }, strict));
  t.truthy(jsonValueRefusal({ ['\udc00']: 1 }, strict));
  let deep: unknown = 1;
  for (let i = 0; i < 5000; i++) deep = [deep];
  t.regex(jsonValueRefusal({ deep }, strict)!, /nested deeper/);
});

test('well-known state contents have their types', (t) => {
  const v11 = { integerPowerLevels: true };
  t.truthy(wellKnownContentRefusal('m.room.join_rules', { join_rule: 5 }, v11));
  t.truthy(wellKnownContentRefusal('m.room.join_rules', {}, v11));
  t.is(wellKnownContentRefusal('m.room.join_rules', { join_rule: 'public' }, v11), undefined);
  t.truthy(wellKnownContentRefusal('m.room.power_levels', { ban: '50' }, v11));
  t.is(wellKnownContentRefusal('m.room.power_levels', { ban: '50' }, { integerPowerLevels: false }), undefined);
  t.is(wellKnownContentRefusal('m.room.power_levels', { users: { '@a:b': 'high' } }, { integerPowerLevels: false }), undefined);
  t.truthy(wellKnownContentRefusal('m.room.power_levels', { users: { '@a:b': 1.5 } }, v11));
  t.truthy(wellKnownContentRefusal('m.room.power_levels', { users: [] }, v11));
  t.truthy(wellKnownContentRefusal('m.room.member', { membership: 'owner' }, v11));
  t.is(wellKnownContentRefusal('m.room.member', { membership: 'join', displayname: null }, v11), undefined);
  t.truthy(wellKnownContentRefusal('m.room.name', { name: 7 }, v11));
  t.truthy(wellKnownContentRefusal('m.room.canonical_alias', { alt_aliases: [1] }, v11));
  t.is(wellKnownContentRefusal('org.example.anything', { x: 5 }, v11), undefined);
});
