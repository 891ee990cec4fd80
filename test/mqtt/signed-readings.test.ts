/**
 * Signed readings (docs/mqtt.md "Signed readings"): the envelope (src/mqtt/signing/envelope.ts) and
 * the per-device check (verifier.ts) over a real registry and database, and the agent's signer
 * (devices/agent/signing.ts): key generated once, counters above every earlier one after a restart.
 */
import test from 'ava';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { generateSigningKey } from '../../src/core/signing.js';
import { encodeUnpaddedBase64 } from '../../src/core/base64.js';
import { isEnvelope, openEnvelope, sealPayload, verifyEnvelope, type SignedMessage } from '../../src/mqtt/signing/envelope.js';
import { ReadingVerifier } from '../../src/mqtt/signing/verifier.js';
import { ReadingSigner, publicKeyOf } from '../../devices/agent/signing.js';
import { openDb, openRegistry, tempDir } from './broker-fixtures.js';

const STATE: SignedMessage = { device: 'attic-pi', topic: 'attic-pi/state', retain: false };
const PAYLOAD = '{"temperature":21.5,"time":"2026-01-01T00:00:00.000Z"}';

async function setup(t: { teardown(fn: () => unknown): void }, opts: { trustOnFirstUse?: boolean; dir?: string } = {}) {
  const dir = opts.dir ?? tempDir();
  const db = await openDb(dir);
  const registry = await openRegistry(db);
  const errors: unknown[] = [];
  const verifier = await ReadingVerifier.open({ db, keys: registry, trustOnFirstUse: opts.trustOnFirstUse ?? false, flushIntervalMs: 10, onError: (e) => errors.push(e) });
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await verifier.flush();
    await db.close();
  };
  t.teardown(close);
  return { dir, db, registry, verifier, errors, close };
}

function seal(message: SignedMessage, counter: number, key = DEVICE_KEY, payload = PAYLOAD, offerKey = false): Buffer {
  return Buffer.from(sealPayload(message, payload, counter, key, { offerKey }));
}

const DEVICE_KEY = generateSigningKey();
const OTHER_KEY = generateSigningKey();

test('an envelope carries the payload, its counter and a signature over device, topic, retain flag, counter and payload', (t) => {
  const sealed = seal(STATE, 7, DEVICE_KEY, PAYLOAD, true);
  t.true(isEnvelope(sealed));
  t.false(isEnvelope(Buffer.from(PAYLOAD)));
  const envelope = openEnvelope(sealed)!;
  t.is(envelope.counter, 7);
  t.is(envelope.payload.toString(), PAYLOAD);
  t.deepEqual(envelope.offeredKey, DEVICE_KEY.publicKey);
  t.true(verifyEnvelope(STATE, envelope, DEVICE_KEY.publicKey));
  t.false(verifyEnvelope(STATE, envelope, OTHER_KEY.publicKey), 'another key');
  t.false(verifyEnvelope({ ...STATE, topic: 'attic-pi/other' }, envelope, DEVICE_KEY.publicKey), 'another topic');
  t.false(verifyEnvelope({ ...STATE, device: 'porch' }, envelope, DEVICE_KEY.publicKey), 'another login');
  t.false(verifyEnvelope({ ...STATE, retain: true }, envelope, DEVICE_KEY.publicKey), 'the retain flag flipped');
  t.false(verifyEnvelope(STATE, { ...envelope, counter: 8 }, DEVICE_KEY.publicKey), 'another counter');
  t.false(verifyEnvelope(STATE, { ...envelope, payload: Buffer.from(PAYLOAD.replace('21.5', '99.5')) }, DEVICE_KEY.publicKey), 'a tampered value');
});

test('malformed envelopes are not opened', (t) => {
  const good = JSON.parse(seal(STATE, 3).toString()) as Record<string, unknown>;
  const variants: Record<string, string> = {
    'not JSON': '{"hearth_sig":1,"ctr":',
    'an extra member': JSON.stringify({ ...good, extra: 1 }),
    'counter 0': JSON.stringify({ ...good, ctr: 0 }),
    'a fractional counter': JSON.stringify({ ...good, ctr: 1.5 }),
    'a counter beyond 2^53': JSON.stringify({ ...good, ctr: 2 ** 60 }),
    'a short signature': JSON.stringify({ ...good, sig: 'AAAA' }),
    'a signature that is not base64': JSON.stringify({ ...good, sig: '!'.repeat(86) }),
    'a payload that is not a string': JSON.stringify({ ...good, payload: { temperature: 1 } }),
    'a key of the wrong size': JSON.stringify({ ...good, key: 'AAAA' }),
  };
  for (const [name, text] of Object.entries(variants)) {
    t.true(isEnvelope(Buffer.from(text)), name);
    t.is(openEnvelope(Buffer.from(text)), undefined, name);
  }
});

test('a signed device: valid readings pass unwrapped; unsigned, forged, replayed and cross-topic ones are refused', async (t) => {
  const { registry, verifier } = await setup(t);
  await registry.addDevice('attic-pi', { publicKey: DEVICE_KEY.publicKey });

  const ok = verifier.check(STATE, seal(STATE, 10));
  t.like(ok, { ok: true, verified: true, counter: 10 });
  t.is((ok as { payload: Buffer }).payload.toString(), PAYLOAD);
  t.like(verifier.check(STATE, seal(STATE, 11)), { ok: true, counter: 11 });

  t.deepEqual(verifier.check(STATE, Buffer.from(PAYLOAD)), { ok: false, reason: 'unsigned' });
  t.deepEqual(verifier.check(STATE, seal(STATE, 12, OTHER_KEY)), { ok: false, reason: 'forged' }, 'wrong key');
  const tampered = seal(STATE, 12).toString().replace('21.5', '99.5');
  t.deepEqual(verifier.check(STATE, Buffer.from(tampered)), { ok: false, reason: 'forged' }, 'tampered value');
  const other = { ...STATE, topic: 'attic-pi/availability' };
  t.deepEqual(verifier.check(other, seal(STATE, 12)), { ok: false, reason: 'forged' }, 'signed for another topic');
  t.deepEqual(verifier.check(STATE, seal(STATE, 11)), { ok: false, reason: 'replayed' }, 'the same counter again');
  t.deepEqual(verifier.check(STATE, seal(STATE, 5)), { ok: false, reason: 'replayed' }, 'an older counter');
  t.deepEqual(verifier.check(STATE, Buffer.from('{"hearth_sig":1,"ctr":99}')), { ok: false, reason: 'forged' }, 'malformed');
  // A will was signed at CONNECT, before later messages: its signature counts, its counter does not.
  t.like(verifier.check(STATE, seal(STATE, 3), { will: true }), { ok: true, verified: true });
  t.deepEqual(verifier.check(STATE, seal(STATE, 3, OTHER_KEY), { will: true }), { ok: false, reason: 'forged' });
  // The key offered by a message is never trusted once one is known.
  t.deepEqual(verifier.check(STATE, seal(STATE, 20, OTHER_KEY, PAYLOAD, true)), { ok: false, reason: 'forged' });
  t.is(verifier.lastCounter('attic-pi'), 11);
});

test('a message the storage could not keep may come again with the same counter, once', async (t) => {
  const { registry, verifier } = await setup(t);
  await registry.addDevice('attic-pi', { publicKey: DEVICE_KEY.publicKey });
  t.like(verifier.check(STATE, seal(STATE, 10)), { ok: true });
  verifier.release('attic-pi', 10);
  t.like(verifier.check(STATE, seal(STATE, 10)), { ok: true, counter: 10 });
  t.like(verifier.check(STATE, seal(STATE, 10)), { ok: false, reason: 'replayed' });
});

test('the last counter survives a restart; removing the device forgets it', async (t) => {
  const first = await setup(t);
  await first.registry.addDevice('attic-pi', { publicKey: DEVICE_KEY.publicKey });
  t.like(first.verifier.check(STATE, seal(STATE, 40)), { ok: true });
  await first.close();

  const second = await setup(t, { dir: first.dir });
  t.is(second.verifier.lastCounter('attic-pi'), 40);
  t.like(second.verifier.check(STATE, seal(STATE, 40)), { ok: false, reason: 'replayed' });
  t.like(second.verifier.check(STATE, seal(STATE, 41)), { ok: true });
  await second.registry.removeDevice('attic-pi');
  second.verifier.forget('attic-pi');
  t.is(second.verifier.lastCounter('attic-pi'), 0);
  await second.close();

  const third = await setup(t, { dir: first.dir });
  t.is(third.verifier.lastCounter('attic-pi'), 0);
  t.deepEqual(third.errors, []);
});

test('an unsigned device: plain payloads pass, envelopes are unwrapped unchecked; trust on first use pins the offered key', async (t) => {
  const off = await setup(t, { trustOnFirstUse: false });
  await off.registry.addDevice('attic-pi');
  t.deepEqual(off.verifier.check(STATE, Buffer.from(PAYLOAD)), { ok: true, verified: false });
  const unwrapped = off.verifier.check(STATE, seal(STATE, 1, DEVICE_KEY, PAYLOAD, true));
  t.like(unwrapped, { ok: true, verified: false });
  t.is((unwrapped as { payload: Buffer }).payload.toString(), PAYLOAD);
  t.is(off.registry.publicKeyOf('attic-pi'), undefined, 'no key learnt with trust on first use off');

  const on = await setup(t, { trustOnFirstUse: true });
  await on.registry.addDevice('attic-pi');
  // A signature that does not hold under the key it offers teaches nothing.
  const lying = JSON.parse(seal(STATE, 1, DEVICE_KEY, PAYLOAD, true).toString()) as Record<string, unknown>;
  lying.key = encodeUnpaddedBase64(OTHER_KEY.publicKey);
  t.like(on.verifier.check(STATE, Buffer.from(JSON.stringify(lying))), { ok: true, verified: false });
  t.is(on.registry.publicKeyOf('attic-pi'), undefined);

  const learnt = on.verifier.check(STATE, seal(STATE, 5, DEVICE_KEY, PAYLOAD, true));
  t.like(learnt, { ok: true, verified: true, counter: 5 });
  t.deepEqual((learnt as { learnedKey: Uint8Array }).learnedKey, DEVICE_KEY.publicKey);
  t.deepEqual(on.registry.publicKeyOf('attic-pi'), DEVICE_KEY.publicKey);
  // From now on it must sign, with that key.
  t.deepEqual(on.verifier.check(STATE, Buffer.from(PAYLOAD)), { ok: false, reason: 'unsigned' });
  t.deepEqual(on.verifier.check(STATE, seal(STATE, 6, OTHER_KEY, PAYLOAD, true)), { ok: false, reason: 'forged' });
  t.like(on.verifier.check(STATE, seal(STATE, 6)), { ok: true, verified: true });
  await on.verifier.flush();
  t.like((await on.registry.listDevices())[0], { name: 'attic-pi', signing: 'signed', publicKey: encodeUnpaddedBase64(DEVICE_KEY.publicKey) });
});

test('the agent signer: one key generated on first run, counters above every earlier one after a restart', async (t) => {
  const { registry, verifier } = await setup(t);
  const dir = tempDir();
  const keyFile = join(dir, 'agent.key');
  const signer = ReadingSigner.open(keyFile, 'attic-pi');
  t.is(readFileSync(`${keyFile}.pub`, 'utf8').trim(), signer.publicKey);
  t.is(publicKeyOf(keyFile), signer.publicKey, 'the key is read back, not generated again');
  t.is(statSync(keyFile).mode & 0o777, 0o600, 'the private key is readable by the agent alone');
  await registry.addDevice('attic-pi', { publicKey: Buffer.from(signer.publicKey, 'base64') });

  const message = { topic: STATE.topic, payload: PAYLOAD, retain: false };
  const counters: number[] = [];
  for (let i = 0; i < 3; i++) {
    const sealed = signer.seal(message, { offerKey: false });
    const verdict = verifier.check(STATE, Buffer.from(sealed.payload));
    t.like(verdict, { ok: true, verified: true });
    counters.push((verdict as { counter: number }).counter);
  }
  // A restart (the same files): still above, even were the clock to stand still.
  const restarted = ReadingSigner.open(keyFile, 'attic-pi');
  t.is(restarted.publicKey, signer.publicKey);
  const verdict = verifier.check(STATE, Buffer.from(restarted.seal(message, { offerKey: false }).payload));
  t.like(verdict, { ok: true });
  t.true((verdict as { counter: number }).counter > counters.at(-1)!);
  t.true(Number(readFileSync(`${keyFile}.counter`, 'utf8')) > (verdict as { counter: number }).counter, 'the stored ceiling is ahead of every counter used');
});
