import test from 'ava';
import { Base64Error, decodeBase64, encodeUnpaddedBase64, encodeUrlSafeBase64 } from '../../src/core/base64.js';

const text = (s: string) => new TextEncoder().encode(s);

test('unpadded base64 examples from appendices "Unpadded Base64"', (t) => {
  const examples: Array<[string, string]> = [
    ['', ''], ['f', 'Zg'], ['fo', 'Zm8'], ['foo', 'Zm9v'], ['foob', 'Zm9vYg'], ['fooba', 'Zm9vYmE'], ['foobar', 'Zm9vYmFy'],
  ];
  for (const [plain, encoded] of examples) {
    t.is(encodeUnpaddedBase64(text(plain)), encoded);
    t.deepEqual(decodeBase64(encoded), text(plain));
  }
});

test('URL-safe alphabet uses - and _ without padding', (t) => {
  const bytes = Uint8Array.from([0xfb, 0xff, 0xbf]);
  t.is(encodeUnpaddedBase64(bytes), '+/+/');
  t.is(encodeUrlSafeBase64(bytes), '-_-_');
  t.is(encodeUrlSafeBase64(Uint8Array.from([0xfb])), '-w');
});

test('encodes a view of a larger buffer, not the whole buffer', (t) => {
  const backing = Uint8Array.from([1, 2, 0x66, 0x6f, 0x6f, 3]);
  t.is(encodeUnpaddedBase64(backing.subarray(2, 5)), 'Zm9v');
});

test('decodes padded, unpadded, standard and URL-safe input alike', (t) => {
  const expected = Uint8Array.from([0xfb, 0xff]);
  for (const encoded of ['+/8', '+/8=', '-_8', '-_8=']) t.deepEqual(decodeBase64(encoded), expected, encoded);
});

test('decodes the appendix test seed, whose last character has non-zero unused bits', (t) => {
  t.is(decodeBase64('YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1').length, 32);
});

test('rejects text that is not base64', (t) => {
  for (const bad of ['Zm9v!', 'Zm 9v', 'Z', 'Zm9vY', 'Zg=', 'Zm9=v', '=']) {
    t.throws(() => decodeBase64(bad), { instanceOf: Base64Error }, bad);
  }
});
