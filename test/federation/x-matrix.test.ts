import test from 'ava';
import { ed25519 } from '@noble/curves/ed25519.js';
import { decodeBase64, encodeUnpaddedBase64 } from '../../src/core/base64.js';
import { generateSigningKey, signingKeyFromSeed } from '../../src/core/signing.js';
import { formatXMatrixHeader, parseXMatrixHeader, signRequest, verifyRequestSignature } from '../../src/federation/transport/x-matrix.js';

// appendices "Cryptographic Test Vectors" > "Signing Key".
const SEED = decodeBase64('YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1');
const KEY = signingKeyFromSeed(SEED, 'ed25519:1');

function parsed(header: string) {
  const result = parseXMatrixHeader(header);
  if (!result.ok) throw new Error(result.reason);
  return result.auth;
}

test('signRequest signs the canonical request JSON of the spec, checked with an independent ed25519', (t) => {
  const header = signRequest(
    { method: 'PUT', uri: '/_matrix/federation/v1/send/1?x=y', origin: 'origin.example', destination: 'dest.example:8448', content: { b: [1, 'é'], a: true } },
    KEY,
  );
  // Written by hand: keys sorted, no whitespace, `content` present, `signatures` absent.
  const expected = '{"content":{"a":true,"b":[1,"é"]},"destination":"dest.example:8448","method":"PUT","origin":"origin.example","uri":"/_matrix/federation/v1/send/1?x=y"}';
  const sig = encodeUnpaddedBase64(ed25519.sign(new TextEncoder().encode(expected), SEED));
  t.is(header, `X-Matrix origin="origin.example",destination="dest.example:8448",key="ed25519:1",sig="${sig}"`);
});

test('a request without a body signs no content member', (t) => {
  const header = signRequest({ method: 'GET', uri: '/_matrix/federation/v1/version', origin: 'a.example', destination: 'b.example' }, KEY);
  const expected = '{"destination":"b.example","method":"GET","origin":"a.example","uri":"/_matrix/federation/v1/version"}';
  t.is(parsed(header).sig, encodeUnpaddedBase64(ed25519.sign(new TextEncoder().encode(expected), SEED)));
});

test('sign then verify round-trips; any change to method, uri, body, destination or key fails', (t) => {
  const request = { method: 'POST', uri: '/_matrix/federation/v1/user/keys/query', origin: 'a.example', destination: 'b.example', content: { device_keys: {} } };
  const auth = parsed(signRequest(request, KEY));
  const base = { method: 'POST', uri: request.uri, destination: 'b.example', content: { device_keys: {} } };
  t.true(verifyRequestSignature(auth, base, KEY.publicKey));
  t.false(verifyRequestSignature(auth, { ...base, method: 'PUT' }, KEY.publicKey));
  t.false(verifyRequestSignature(auth, { ...base, uri: `${request.uri}?a=1` }, KEY.publicKey));
  t.false(verifyRequestSignature(auth, { ...base, content: { device_keys: { '@u:a.example': [] } } }, KEY.publicKey));
  t.false(verifyRequestSignature(auth, { ...base, content: undefined }, KEY.publicKey));
  t.false(verifyRequestSignature(auth, { ...base, destination: 'c.example' }, KEY.publicKey));
  t.false(verifyRequestSignature(auth, base, generateSigningKey().publicKey));
  t.false(verifyRequestSignature({ ...auth, origin: 'evil.example' }, base, KEY.publicKey));
  t.false(verifyRequestSignature({ ...auth, sig: 'not base64!' }, base, KEY.publicKey));
});

test('a header without destination (servers before v1.3) verifies against our own name', (t) => {
  const auth = parsed(signRequest({ method: 'GET', uri: '/x', origin: 'a.example', destination: 'b.example' }, KEY));
  const { destination: _omitted, ...old } = auth;
  t.false('destination' in old);
  t.true(verifyRequestSignature(old, { method: 'GET', uri: '/x', destination: 'b.example' }, KEY.publicKey));
  t.false(verifyRequestSignature(old, { method: 'GET', uri: '/x', destination: 'other.example' }, KEY.publicKey));
});

test('parsing follows RFC 9110 as the spec summarises it', (t) => {
  t.deepEqual(parsed('X-Matrix origin="a.example",destination="b.example",key="ed25519:k",sig="c2ln"'), {
    origin: 'a.example',
    destination: 'b.example',
    key: 'ed25519:k',
    sig: 'c2ln',
  });
  // Scheme and names case-insensitive, several spaces after the scheme, whitespace around commas,
  // unquoted values with colons, unknown parameters ignored, any order.
  t.deepEqual(parsed('x-matrix   SIG=c2ln ,\tKey=ed25519:k , Origin=a.example:8448, extra="x, y"'), {
    origin: 'a.example:8448',
    key: 'ed25519:k',
    sig: 'c2ln',
  });
  // Backslash escapes in quoted values are undone.
  t.is(parsed('X-Matrix origin="a\\.example",key="ed25519:\\k",sig="s"').origin, 'a.example');
  t.is(parsed('X-Matrix origin="a\\.example",key="ed25519:\\k",sig="s"').key, 'ed25519:k');
});

test('malformed headers are refused with a reason', (t) => {
  for (const header of [
    'Bearer abc',
    'X-Matrix',
    'X-Matrixorigin=a,key=k,sig=s',
    'X-Matrix origin="a.example",key="ed25519:k"',
    'X-Matrix origin="a.example",key="ed25519:k",sig="s",origin="b.example"',
    'X-Matrix origin="a.example,key="ed25519:k",sig="s"',
    'X-Matrix origin=,key=k,sig=s',
    'X-Matrix origin="not a server",key="ed25519:k",sig="s"',
    'X-Matrix origin="a.example",destination="bad name!",key="ed25519:k",sig="s"',
    'X-Matrix origin="a.example";key="ed25519:k",sig="s"',
    `X-Matrix origin="a.example",key="ed25519:k",sig="${'s'.repeat(5000)}"`,
  ]) {
    const result = parseXMatrixHeader(header);
    t.false(result.ok, header);
    if (!result.ok) t.true(result.reason.length > 0);
  }
});

test('formatXMatrixHeader writes what parseXMatrixHeader reads', (t) => {
  const auth = { origin: '[::1]:8448', destination: '127.0.0.1:9', key: 'ed25519:a_B9', sig: 'abc+/' };
  t.deepEqual(parsed(formatXMatrixHeader(auth)), auth);
});
