/**
 * scripts/build.ts keeps the bundle's source one byte per character in V8 (Latin-1 only): a single
 * character above U+00FF in a comment doubled the 1 MB script's size on the heap.
 */
import test from 'ava';
import { latin1Only } from '../../scripts/build.js';

test('characters above Latin-1 become one ASCII character each, so columns stay true', (t) => {
  const source = '/** `str type ‖ str state_key` → short… */\nconst a = "caf\\u00e9";';
  const out = latin1Only(source);
  t.is(out, '/** `str type | str state_key` > short. */\nconst a = "caf\\u00e9";');
  t.is(out.length, source.length);
  t.false(/[^\u0000-\u00ff]/.test(out));
});

test('a character outside the map, astral ones included, is replaced unit for unit', (t) => {
  const source = '// ✓ done 😀\nx();';
  const out = latin1Only(source);
  t.is(out, '// ? done ??\nx();');
  t.is(out.length, source.length);
});

test('Latin-1 itself is left alone', (t) => {
  t.is(latin1Only('// café × 2\n'), '// café × 2\n');
});
