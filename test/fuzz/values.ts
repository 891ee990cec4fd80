/**
 * Hostile values for the fuzzer: the strings, numbers and shapes that broke parsers before (NUL,
 * lone surrogates, identifiers one character off the grammar, path traversal, prototype keys,
 * numbers outside canonical JSON's range, deep nesting), mixed with ordinary ones so that inputs
 * get past the first validation and reach the code behind it.
 */
import type { Prng } from './prng.js';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

const IDENTIFIER_LIKE = [
  '@alice:localhost',
  '@:localhost',
  '@alice',
  '@ALICE:localhost',
  '@alice:localhost:8448',
  '@alice:[::1]:80',
  '!room:localhost',
  '!:',
  '#alias:localhost',
  '#:localhost',
  '$event',
  '$event:localhost',
  'm.room.message',
  'm.room.power_levels',
  'm.room.power_levels\u0000',
  'm.room.member',
  'm.room.create',
  'm.room.join_rules',
  'org.hearth.sensor',
  'org.hearth.device',
];

const SPECIAL_STRINGS = [
  '',
  ' ',
  '\u0000',
  'a\u0000b',
  '\ud800',
  'x\udfffy',
  '\ud83d\ude00',
  '\u202e\u200b\ufeff',
  'e\u0301\u0301\u0301',
  '\n\r\t',
  '..',
  '../../../../etc/passwd',
  '..%2f..%2f..%2fetc%2fpasswd',
  '/etc/passwd',
  'C:\\windows\\win.ini',
  '%00',
  '%',
  '%ff',
  '%%%',
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'hasOwnProperty',
  '{{7*7}}',
  '${jndi:ldap://x}',
  '%s%s%s%n',
  "' OR 1=1 --",
  '<script>alert(1)</script>',
  'null',
  'true',
  '0',
  '-1',
  '1e309',
  'NaN',
  '💩'.repeat(40),
  '+',
  '#',
  '$',
  '$SYS/broker',
];

const SPECIAL_NUMBERS = [
  0, -0, 1, -1, 2, 7, 50, 100, 101, 1.5, -1.5, 0.1, 1e-7, 5e-324, 2 ** 31, 2 ** 32, -(2 ** 31), 2 ** 53 - 1, 2 ** 53, 2 ** 53 + 2,
  -(2 ** 53), 1e21, 1e30, -1e30, 1.7976931348623157e308, -1.7976931348623157e308,
];

export function hostileNumber(rng: Prng): number {
  if (rng.chance(0.3)) return rng.range(-5, 120);
  return rng.pick(SPECIAL_NUMBERS);
}

function randomCodePointString(rng: Prng, length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) {
    const kind = rng.int(10);
    if (kind < 6) out += String.fromCharCode(rng.range(0x20, 0x7e));
    else if (kind < 7) out += String.fromCharCode(rng.range(0, 0x1f));
    else if (kind < 8) out += String.fromCharCode(rng.range(0xd800, 0xdfff)); // lone or paired surrogates
    else if (kind < 9) out += String.fromCodePoint(rng.range(0x80, 0x2fff));
    else out += String.fromCodePoint(rng.range(0x1f300, 0x1f6ff));
  }
  return out;
}

export function hostileString(rng: Prng): string {
  return rng.weighted<() => string>([
    [4, () => rng.pick(SPECIAL_STRINGS)],
    [3, () => rng.pick(IDENTIFIER_LIKE)],
    [3, () => randomCodePointString(rng, rng.range(1, 24))],
    [1, () => 'a'.repeat(rng.pick([255, 256, 1000, 65_536, 70_000]))],
    [1, () => rng.pick(IDENTIFIER_LIKE) + rng.pick(SPECIAL_STRINGS)],
    [1, () => rng.pick(SPECIAL_STRINGS) + rng.pick(IDENTIFIER_LIKE)],
  ])();
}

export function hostileKey(rng: Prng): string {
  return rng.weighted<() => string>([
    [3, () => rng.pick(['__proto__', 'constructor', 'prototype', '', '\u0000', 'a.b', '$ref', 'content', 'type', 'state_key', 'body', 'auth'])],
    [2, () => hostileString(rng).slice(0, 300)],
    [2, () => `k${rng.int(1000)}`],
  ])();
}

/** A random JSON value at most `depth` levels deep. */
export function randomJson(rng: Prng, depth = 3): Json {
  const kind = depth <= 0 ? rng.int(4) : rng.int(6);
  switch (kind) {
    case 0:
      return null;
    case 1:
      return rng.chance(0.5);
    case 2:
      return hostileNumber(rng);
    case 3:
      return hostileString(rng);
    case 4: {
      // Now and then a wide one (3,000 entries), of leaves only so the size stays bounded.
      const wide = rng.chance(0.05);
      return Array.from({ length: rng.int(wide ? 3000 : 5) }, () => (wide ? smallLeaf(rng) : randomJson(rng, depth - 1)));
    }
    default: {
      const obj: { [key: string]: Json } = {};
      const wide = rng.chance(0.05);
      const n = rng.int(wide ? 3000 : 5);
      for (let i = 0; i < n; i++) {
        // defineProperty: "__proto__" becomes an own key, as JSON.parse makes it.
        const value = wide ? smallLeaf(rng) : randomJson(rng, depth - 1);
        Object.defineProperty(obj, wide ? `key${i}` : hostileKey(rng), { value, enumerable: true, writable: true, configurable: true });
      }
      return obj;
    }
  }
}

/** A leaf of at most 64 characters, for the wide containers. */
function smallLeaf(rng: Prng): Json {
  const leaf = randomJson(rng, 0);
  return typeof leaf === 'string' ? leaf.slice(0, 64) : leaf;
}

/** JSON text nested `depth` levels deep (`[[[...]]]` or `{"a":{"a":...}}`), built as text: no stack. */
export function deeplyNestedText(rng: Prng, depth: number): string {
  if (rng.chance(0.5)) return '['.repeat(depth) + ']'.repeat(depth);
  return '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);
}
