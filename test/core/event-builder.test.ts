import test from 'ava';
import { ed25519 } from '@noble/curves/ed25519.js';
import { decodeBase64 } from '../../src/core/base64.js';
import { canonicalJson } from '../../src/core/canonical-json.js';
import { type PduTemplate, finalizePdu } from '../../src/core/event-builder.js';
import { verifyEventSignature } from '../../src/core/event-verification.js';
import { computeEventId, computeRoomIdFromCreateEvent, hasValidContentHash } from '../../src/core/hashes.js';
import { redactPdu } from '../../src/core/redaction.js';
import { toRoomEvent } from '../../src/core/room-event.js';
import { getRoomVersionRules } from '../../src/core/room-versions.js';
import { signingKeyFromSeed } from '../../src/core/signing.js';
import type { JsonObject, Pdu } from '../../src/core/types.js';
import { CREATE_V12, MESSAGE_V11 } from './reference-events.js';

const V10 = getRoomVersionRules('10')!;
const V11 = getRoomVersionRules('11')!;
const V12 = getRoomVersionRules('12')!;
const KEY = signingKeyFromSeed(decodeBase64('YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1'), 'ed25519:1');

// appendices "Cryptographic Test Vectors" > "Event Signing". These events carry fields of early
// room versions (`origin`, `event_id`), which the rooms/v9 redaction algorithm (room version 10)
// protects just as room version 1 did, so the published signatures hold under V10 rules.
// `finalizePdu` takes a template without hashes/signatures, hence the casts.
test('appendix "Event Signing": minimally-sized event', (t) => {
  const template = {
    room_id: '!x:domain', sender: '@a:domain', origin: 'domain', origin_server_ts: 1000000, type: 'X', content: {},
    prev_events: [], auth_events: [], depth: 3, unsigned: { age_ts: 1000000 },
  } as unknown as PduTemplate;
  const { pdu } = finalizePdu(template, { rules: V10, serverName: 'domain', key: KEY });
  t.is(
    canonicalJson(pdu),
    canonicalJson({
      auth_events: [], content: {}, depth: 3, hashes: { sha256: '5jM4wQpv6lnBo7CLIghJuHdW+s2CMBJPUOGOC89ncos' },
      origin: 'domain', origin_server_ts: 1000000, prev_events: [], room_id: '!x:domain', sender: '@a:domain',
      signatures: { domain: { 'ed25519:1': 'KxwGjPSDEtvnFgU00fwFz+l6d2pJM6XBIaMEn81SXPTRl16AqLAYqfIReFGZlHi5KLjAWbOoMszkwsQma+lYAg' } },
      type: 'X', unsigned: { age_ts: 1000000 },
    }),
  );
});

test('appendix "Event Signing": event with redactable content', (t) => {
  const template = {
    content: { body: 'Here is the message content' }, event_id: '$0:domain', origin: 'domain', origin_server_ts: 1000000,
    type: 'm.room.message', room_id: '!r:domain', sender: '@u:domain', unsigned: { age_ts: 1000000 },
  } as unknown as PduTemplate;
  const { pdu } = finalizePdu(template, { rules: V10, serverName: 'domain', key: KEY });
  t.deepEqual(pdu as unknown, {
    content: { body: 'Here is the message content' }, event_id: '$0:domain',
    hashes: { sha256: 'onLKD1bGljeBWQhWZ1kaP9SorVmRQNdN5aM2JYU2n/g' }, origin: 'domain', origin_server_ts: 1000000,
    type: 'm.room.message', room_id: '!r:domain', sender: '@u:domain',
    signatures: { domain: { 'ed25519:1': 'Wm+VzmOUOz08Ds+0NTWb1d4CZrVsJSikkeRxh6aCcUwu6pNC78FunoD7KNWzqFn241eYHYMGCA5McEiVPdhzBA' } },
    unsigned: { age_ts: 1000000 },
  });
  t.true(verifyEventSignature(pdu, V10, 'domain', 'ed25519:1', KEY.publicKey));
});

test('finalizePdu: hash, signature over the redacted event, and event id (v11)', (t) => {
  const { pdu, eventId } = finalizePdu(MESSAGE_V11, { rules: V11, serverName: 'hearth.local', key: KEY });
  // Expected values computed independently (see hashes.test.ts).
  t.is(pdu.hashes.sha256, 'f1j4AP8ZpiExuJXbv6sGL2duUTIFWXqR0XUUOO2UJfA');
  t.is(eventId, '$cdQgYdrZxqvqPVLKeNT0J_ddirh9JKwQz6qOdU5zd0o');
  t.is(computeEventId(pdu, V11), eventId);
  t.true(hasValidContentHash(pdu));
  t.deepEqual(Object.keys(pdu.signatures), ['hearth.local']);
  t.deepEqual(Object.keys(pdu.signatures['hearth.local']!), ['ed25519:1']);
  t.deepEqual(pdu.unsigned, { age_ts: 1 });
  // The signature covers exactly the redacted event minus signatures/unsigned, checked with an
  // independent ed25519 implementation.
  const { signatures: _s, ...redacted } = redactPdu(pdu, V11);
  const signed = new TextEncoder().encode(canonicalJson(redacted));
  t.true(ed25519.verify(decodeBase64(pdu.signatures['hearth.local']!['ed25519:1']!), signed, KEY.publicKey));
  // It survives redaction, and fails once the essential fields change.
  t.true(verifyEventSignature(pdu, V11, 'hearth.local', 'ed25519:1', KEY.publicKey));
  t.true(verifyEventSignature(redactPdu(pdu, V11), V11, 'hearth.local', 'ed25519:1', KEY.publicKey));
  t.false(verifyEventSignature({ ...pdu, depth: 8 }, V11, 'hearth.local', 'ed25519:1', KEY.publicKey));
  t.false(verifyEventSignature({ ...pdu, hashes: { sha256: 'AAAA' } }, V11, 'hearth.local', 'ed25519:1', KEY.publicKey));
  // Editing the content leaves the signature valid but breaks the content hash.
  const edited = { ...pdu, content: { body: 'forged' } };
  t.true(verifyEventSignature(edited, V11, 'hearth.local', 'ed25519:1', KEY.publicKey));
  t.false(hasValidContentHash(edited));
});

test('finalizePdu does not modify its template', (t) => {
  const snapshot = structuredClone(MESSAGE_V11);
  finalizePdu(MESSAGE_V11, { rules: V11, serverName: 'hearth.local', key: KEY });
  t.deepEqual(MESSAGE_V11, snapshot);
});

test('v12 create event: no room_id, room id derived from the event id', (t) => {
  const { pdu, eventId } = finalizePdu(CREATE_V12, { rules: V12, serverName: 'hearth.local', key: KEY });
  t.is(eventId, '$7ZkWbEa74w43oAXiQy6VwqMjBf90KSxOvrYRt_zuwK4');
  t.false('room_id' in pdu);
  const roomEvent = toRoomEvent(pdu, V12, eventId);
  t.is(roomEvent.room_id, '!7ZkWbEa74w43oAXiQy6VwqMjBf90KSxOvrYRt_zuwK4');
  t.is(toRoomEvent(pdu, V12).room_id, computeRoomIdFromCreateEvent(eventId));
  t.is(roomEvent.event_id, eventId);
  t.is(roomEvent.pdu, pdu);
});

test('toRoomEvent keeps a present room_id and refuses a missing one outside v12 create events', (t) => {
  const { pdu, eventId } = finalizePdu(MESSAGE_V11, { rules: V11, serverName: 'hearth.local', key: KEY });
  t.deepEqual(toRoomEvent(pdu, V11), { event_id: eventId, room_id: '!kitchen:hearth.local', pdu });
  const { room_id: _r, ...withoutRoom } = pdu;
  t.throws(() => toRoomEvent(withoutRoom as Pdu, V12));
  t.throws(() => toRoomEvent({ ...(withoutRoom as Pdu), type: 'm.room.create' }, V11));
});

test('an event id changes when an essential field changes but not with unsigned data', (t) => {
  const options = { rules: V11, serverName: 'hearth.local', key: KEY };
  const base = finalizePdu(MESSAGE_V11, options).eventId;
  t.is(finalizePdu({ ...MESSAGE_V11, unsigned: { age_ts: 99 } }, options).eventId, base);
  t.not(finalizePdu({ ...MESSAGE_V11, depth: 8 }, options).eventId, base);
  t.not(finalizePdu({ ...MESSAGE_V11, content: { body: 'x' } as JsonObject }, options).eventId, base);
});
