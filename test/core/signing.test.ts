import test from 'ava';
import { ed25519 } from '@noble/curves/ed25519.js';
import { decodeBase64, encodeUnpaddedBase64 } from '../../src/core/base64.js';
import { canonicalJson } from '../../src/core/canonical-json.js';
import {
  generateSigningKey,
  signBytes,
  signJson,
  signingKeyFromSeed,
  verifyBytes,
  verifyJsonSignature,
} from '../../src/core/signing.js';

// appendices "Cryptographic Test Vectors" > "Signing Key".
const SEED = decodeBase64('YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1');
const KEY = signingKeyFromSeed(SEED, 'ed25519:1');

test('the test key derives the same public key as an independent implementation', (t) => {
  t.deepEqual(KEY.publicKey, ed25519.getPublicKey(SEED));
  t.is(KEY.keyId, 'ed25519:1');
  t.deepEqual(KEY.secretKey, SEED);
});

test('appendix "JSON Signing": empty object', (t) => {
  t.deepEqual(signJson({}, 'domain', KEY), {
    signatures: {
      domain: {
        'ed25519:1': 'K8280/U9SSy9IVtjBuVeLr+HpOB4BQFWbg+UZaADMtTdGYI7Geitb76LTrr5QV/7Xg4ahLwYGYZzuHGZKM5ZAQ',
      },
    },
  });
});

test('appendix "JSON Signing": object with data values', (t) => {
  const signed = signJson({ one: 1, two: 'Two' }, 'domain', KEY);
  t.is(
    canonicalJson(signed),
    '{"one":1,"signatures":{"domain":{"ed25519:1":"KqmLSbO39/Bzb0QIYE82zqLwsA+PDzYIpIRA2sRQ4sL53+sN6/fpNSoqE7BP7vBZhG6kYdD13EIMJpvhJI+6Bw"}},"two":"Two"}',
  );
});

test('signing ignores unsigned and existing signatures, keeps both, and does not mutate its input', (t) => {
  const original = {
    one: 1,
    two: 'Two',
    unsigned: { age_ts: 922834800000 },
    signatures: { 'other.example': { 'ed25519:x': 'c2ln' }, domain: { 'ed25519:0': 'b2xk' } },
  };
  const snapshot = structuredClone(original);
  const signed = signJson(original, 'domain', KEY);
  t.deepEqual(original, snapshot);
  t.deepEqual(signed.unsigned, { age_ts: 922834800000 });
  t.deepEqual(signed.signatures, {
    'other.example': { 'ed25519:x': 'c2ln' },
    domain: {
      'ed25519:0': 'b2xk',
      'ed25519:1': 'KqmLSbO39/Bzb0QIYE82zqLwsA+PDzYIpIRA2sRQ4sL53+sN6/fpNSoqE7BP7vBZhG6kYdD13EIMJpvhJI+6Bw',
    },
  });
});

test('verifyJsonSignature accepts the appendix vectors and rejects tampering', (t) => {
  const signed = signJson({ one: 1, two: 'Two' }, 'domain', KEY);
  t.true(verifyJsonSignature(signed, 'domain', 'ed25519:1', KEY.publicKey));
  t.true(verifyJsonSignature({ ...signed, unsigned: { anything: true } }, 'domain', 'ed25519:1', KEY.publicKey));
  t.false(verifyJsonSignature({ ...signed, two: 'Three' }, 'domain', 'ed25519:1', KEY.publicKey));
  t.false(verifyJsonSignature(signed, 'other', 'ed25519:1', KEY.publicKey));
  t.false(verifyJsonSignature(signed, 'domain', 'ed25519:2', KEY.publicKey));
  t.false(verifyJsonSignature(signed, 'domain', 'ed25519:1', generateSigningKey().publicKey));
  t.false(verifyJsonSignature({ ...signed, signatures: { domain: { 'ed25519:1': 'not base64!' } } }, 'domain', 'ed25519:1', KEY.publicKey));
  t.false(verifyJsonSignature({ ...signed, signatures: { domain: { 'ed25519:1': 'AAAA' } } }, 'domain', 'ed25519:1', KEY.publicKey));
  t.false(verifyJsonSignature({ ...signed, n: 1.5 }, 'domain', 'ed25519:1', KEY.publicKey));
  t.false(verifyJsonSignature({ one: 1 }, 'domain', 'ed25519:1', KEY.publicKey));
});

test('signatures agree with @noble/curves in both directions', (t) => {
  const message = new TextEncoder().encode('{"hello":"world"}');
  const ours = signBytes(message, KEY);
  t.deepEqual(ours, ed25519.sign(message, SEED));
  t.true(ed25519.verify(ours, message, KEY.publicKey));
  t.true(verifyBytes(message, ed25519.sign(message, SEED), KEY.publicKey));
  t.false(verifyBytes(message, ours, Uint8Array.from(KEY.publicKey).fill(0, 0, 1)));
  t.false(verifyBytes(message, ours.subarray(0, 63), KEY.publicKey));
});

test('generated keys have an ed25519 key id of [a-zA-Z0-9_] and a working key pair', (t) => {
  const key = generateSigningKey();
  t.regex(key.keyId, /^ed25519:[a-zA-Z0-9_]{6}$/);
  t.is(key.secretKey.length, 32);
  t.deepEqual(key.publicKey, ed25519.getPublicKey(key.secretKey));
  const signed = signJson({ a: 1 }, 'example.org', key);
  t.true(verifyJsonSignature(signed, 'example.org', key.keyId, key.publicKey));
  t.true(ed25519.verify(decodeBase64(signed.signatures['example.org']![key.keyId]!), new TextEncoder().encode('{"a":1}'), key.publicKey));
  t.not(encodeUnpaddedBase64(generateSigningKey().publicKey), encodeUnpaddedBase64(key.publicKey));
});

test('rejects seeds of the wrong size and foreign key ids', (t) => {
  t.throws(() => signingKeyFromSeed(new Uint8Array(31), 'ed25519:1'));
  t.throws(() => signingKeyFromSeed(SEED, 'curve25519:1'));
});
