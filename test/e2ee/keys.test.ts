/** /keys/upload, /keys/query and /keys/claim through the HTTP routes. */
import test from 'ava';
import { signJson } from '../../src/core/signing.js';
import { authAs, makeDevice, openE2eeStack, post, signedKey } from './stack.js';

const ALICE = '@alice:test.local';
const BOB = '@bob:test.local';

test('device keys signed by the device are stored and returned by /keys/query with the display name', async (t) => {
  const s = await openE2eeStack();
  t.teardown(() => s.close());
  s.addDevice(ALICE, 'ALICEPHONE', "Alice's phone");
  s.addDevice(ALICE, 'ALICELAPTOP');
  const phone = makeDevice(ALICE, 'ALICEPHONE');
  const laptop = makeDevice(ALICE, 'ALICELAPTOP');

  const up = await post(s.app, '/_matrix/client/v3/keys/upload', authAs(ALICE, 'ALICEPHONE'), { device_keys: phone.deviceKeys });
  t.is(up.status, 200);
  t.deepEqual(up.body, { one_time_key_counts: { signed_curve25519: 0 } });
  t.is((await post(s.app, '/_matrix/client/v3/keys/upload', authAs(ALICE, 'ALICELAPTOP'), { device_keys: laptop.deviceKeys })).status, 200);

  const all = await post(s.app, '/_matrix/client/v3/keys/query', authAs(BOB), { device_keys: { [ALICE]: [] } });
  t.is(all.status, 200);
  t.deepEqual(all.body.failures, {});
  t.deepEqual(Object.keys(all.body.device_keys[ALICE]).sort(), ['ALICELAPTOP', 'ALICEPHONE']);
  t.deepEqual(all.body.device_keys[ALICE].ALICEPHONE, { ...phone.deviceKeys, unsigned: { device_display_name: "Alice's phone" } });
  t.deepEqual(all.body.device_keys[ALICE].ALICELAPTOP.unsigned, {});

  const one = await post(s.app, '/_matrix/client/v3/keys/query', authAs(BOB), { device_keys: { [ALICE]: ['ALICELAPTOP'], [BOB]: [] } });
  t.deepEqual(Object.keys(one.body.device_keys[ALICE]), ['ALICELAPTOP']);
  t.deepEqual(one.body.device_keys[BOB], {});
});

test('badly signed or foreign device keys are refused', async (t) => {
  const s = await openE2eeStack();
  t.teardown(() => s.close());
  const phone = makeDevice(ALICE, 'ALICEPHONE');
  const other = makeDevice(ALICE, 'ALICEPHONE');
  // Signed by another key than the ed25519 key the object names.
  const forged = signJson({ ...phone.deviceKeys, signatures: {} }, ALICE, other.key);
  const bad = await post(s.app, '/_matrix/client/v3/keys/upload', authAs(ALICE, 'ALICEPHONE'), { device_keys: forged });
  t.is(bad.status, 400);
  t.is(bad.body.errcode, 'M_INVALID_SIGNATURE');
  // Changed after signing.
  const tampered = { ...phone.deviceKeys, algorithms: ['m.megolm.v1.aes-sha2'] };
  t.is((await post(s.app, '/_matrix/client/v3/keys/upload', authAs(ALICE, 'ALICEPHONE'), { device_keys: tampered })).body.errcode, 'M_INVALID_SIGNATURE');
  // Another device's keys.
  const wrongDevice = await post(s.app, '/_matrix/client/v3/keys/upload', authAs(ALICE, 'OTHER'), { device_keys: phone.deviceKeys });
  t.is(wrongDevice.status, 400);
  t.is(wrongDevice.body.errcode, 'M_INVALID_PARAM');
  // Malformed.
  const malformed = await post(s.app, '/_matrix/client/v3/keys/upload', authAs(ALICE, 'ALICEPHONE'), { device_keys: { user_id: ALICE } });
  t.is(malformed.body.errcode, 'M_BAD_JSON');
  t.is((await post(s.app, '/_matrix/client/v3/keys/upload', authAs(ALICE, 'ALICEPHONE'), [])).body.errcode, 'M_BAD_JSON');
  t.is((await post(s.app, '/_matrix/client/v3/keys/query', authAs(ALICE), { device_keys: { [ALICE]: 'x' } })).body.errcode, 'M_BAD_JSON');
  s.addDevice(ALICE, 'ALICEPHONE');
  const q = await post(s.app, '/_matrix/client/v3/keys/query', authAs(BOB), { device_keys: { [ALICE]: [] } });
  t.deepEqual(q.body.device_keys[ALICE], {});
});

test('users of other servers are reported as failures', async (t) => {
  const s = await openE2eeStack();
  t.teardown(() => s.close());
  const q = await post(s.app, '/_matrix/client/v3/keys/query', authAs(ALICE), { device_keys: { '@carol:elsewhere.org': [] } });
  t.is(q.status, 200);
  t.deepEqual(Object.keys(q.body.failures), ['elsewhere.org']);
  t.deepEqual(q.body.device_keys, {});
});

test('claims hand out one-time keys in upload order, then the fallback key, and counts follow', async (t) => {
  const s = await openE2eeStack();
  t.teardown(() => s.close());
  const phone = makeDevice(ALICE, 'ALICEPHONE');
  const first = { 'signed_curve25519:zzz': signedKey(phone), 'signed_curve25519:yyy': signedKey(phone) };
  const second = { 'signed_curve25519:AAA': signedKey(phone) };
  const fallback = { 'signed_curve25519:FB1': signedKey(phone, true) };
  const auth = authAs(ALICE, 'ALICEPHONE');
  const up1 = await post(s.app, '/_matrix/client/v3/keys/upload', auth, { device_keys: phone.deviceKeys, one_time_keys: first, fallback_keys: fallback });
  t.deepEqual(up1.body.one_time_key_counts, { signed_curve25519: 2 });
  const up2 = await post(s.app, '/_matrix/client/v3/keys/upload', auth, { one_time_keys: second });
  t.deepEqual(up2.body.one_time_key_counts, { signed_curve25519: 3 });
  t.deepEqual(await s.e2ee.unusedFallbackKeyTypes(ALICE, 'ALICEPHONE'), ['signed_curve25519']);

  const claim = () => post(s.app, '/_matrix/client/v3/keys/claim', authAs(BOB), { one_time_keys: { [ALICE]: { ALICEPHONE: 'signed_curve25519' } } });
  const claimedNames: string[] = [];
  for (let i = 0; i < 3; i++) {
    const c = await claim();
    t.is(c.status, 200);
    const keys = c.body.one_time_keys[ALICE].ALICEPHONE;
    const [name] = Object.keys(keys);
    claimedNames.push(name!);
    t.deepEqual(keys[name!], { ...first, ...second }[name! as keyof typeof first]);
    t.is((await s.e2ee.oneTimeKeyCounts(ALICE, 'ALICEPHONE')).signed_curve25519, 2 - i);
  }
  // Both keys of the first upload (in any order) before the key of the second, though 'AAA' sorts first.
  t.deepEqual(claimedNames.slice(0, 2).sort(), ['signed_curve25519:yyy', 'signed_curve25519:zzz']);
  t.is(claimedNames[2], 'signed_curve25519:AAA');

  // Exhausted: the fallback key, every time, now marked used.
  for (let i = 0; i < 2; i++) {
    const c = await claim();
    t.deepEqual(c.body.one_time_keys[ALICE].ALICEPHONE, fallback);
  }
  t.deepEqual(await s.e2ee.unusedFallbackKeyTypes(ALICE, 'ALICEPHONE'), []);
  t.deepEqual(await s.e2ee.oneTimeKeyCounts(ALICE, 'ALICEPHONE'), { signed_curve25519: 0 });
  // Uploading the same fallback key again keeps it used; a new one is unused.
  await post(s.app, '/_matrix/client/v3/keys/upload', auth, { fallback_keys: fallback });
  t.deepEqual(await s.e2ee.unusedFallbackKeyTypes(ALICE, 'ALICEPHONE'), []);
  await post(s.app, '/_matrix/client/v3/keys/upload', auth, { fallback_keys: { 'signed_curve25519:FB2': signedKey(phone, true) } });
  t.deepEqual(await s.e2ee.unusedFallbackKeyTypes(ALICE, 'ALICEPHONE'), ['signed_curve25519']);

  // A device with nothing to claim is left out.
  const none = await post(s.app, '/_matrix/client/v3/keys/claim', authAs(BOB), { one_time_keys: { [ALICE]: { NOPE: 'signed_curve25519' } } });
  t.deepEqual(none.body, { one_time_keys: {}, failures: {} });
});

test('concurrent claims never hand out the same one-time key', async (t) => {
  const s = await openE2eeStack();
  t.teardown(() => s.close());
  const phone = makeDevice(ALICE, 'ALICEPHONE');
  const keys: Record<string, unknown> = {};
  for (let i = 0; i < 5; i++) keys[`signed_curve25519:K${i}`] = signedKey(phone);
  await post(s.app, '/_matrix/client/v3/keys/upload', authAs(ALICE, 'ALICEPHONE'), { one_time_keys: keys });
  const results = await Promise.all(
    Array.from({ length: 8 }, () => post(s.app, '/_matrix/client/v3/keys/claim', authAs(BOB), { one_time_keys: { [ALICE]: { ALICEPHONE: 'signed_curve25519' } } })),
  );
  const names = results.flatMap((r) => Object.keys(r.body.one_time_keys[ALICE]?.ALICEPHONE ?? {}));
  t.is(names.length, 5);
  t.is(new Set(names).size, 5);
});

test('one-time keys: a retried upload is accepted, a different key under a used id refused', async (t) => {
  const s = await openE2eeStack();
  t.teardown(() => s.close());
  const phone = makeDevice(ALICE, 'ALICEPHONE');
  const keys = { 'signed_curve25519:K1': signedKey(phone) };
  const auth = authAs(ALICE, 'ALICEPHONE');
  await post(s.app, '/_matrix/client/v3/keys/upload', auth, { one_time_keys: keys });
  t.deepEqual((await post(s.app, '/_matrix/client/v3/keys/upload', auth, { one_time_keys: keys })).body.one_time_key_counts, { signed_curve25519: 1 });
  const clash = await post(s.app, '/_matrix/client/v3/keys/upload', auth, { one_time_keys: { 'signed_curve25519:K1': signedKey(phone) } });
  t.is(clash.status, 400);
  t.is((await post(s.app, '/_matrix/client/v3/keys/upload', auth, { one_time_keys: { nocolon: 'x' } })).body.errcode, 'M_BAD_JSON');
  const twoFallbacks = { 'signed_curve25519:A': signedKey(phone, true), 'signed_curve25519:B': signedKey(phone, true) };
  t.is((await post(s.app, '/_matrix/client/v3/keys/upload', auth, { fallback_keys: twoFallbacks })).status, 400);
});

test('a deleted device loses its keys', async (t) => {
  const s = await openE2eeStack();
  t.teardown(() => s.close());
  s.addDevice(ALICE, 'ALICEPHONE');
  const phone = makeDevice(ALICE, 'ALICEPHONE');
  await post(s.app, '/_matrix/client/v3/keys/upload', authAs(ALICE, 'ALICEPHONE'), {
    device_keys: phone.deviceKeys,
    one_time_keys: { 'signed_curve25519:K1': signedKey(phone) },
    fallback_keys: { 'signed_curve25519:F': signedKey(phone, true) },
  });
  await s.e2ee.onDeviceDeleted(ALICE, 'ALICEPHONE');
  t.deepEqual(await s.e2ee.oneTimeKeyCounts(ALICE, 'ALICEPHONE'), { signed_curve25519: 0 });
  t.deepEqual(await s.e2ee.unusedFallbackKeyTypes(ALICE, 'ALICEPHONE'), []);
  const q = await post(s.app, '/_matrix/client/v3/keys/query', authAs(ALICE), { device_keys: { [ALICE]: [] } });
  t.deepEqual(q.body.device_keys[ALICE], {});
  t.deepEqual((await s.e2ee.deviceListsSince(ALICE, 1, s.notifier.position)).changed, [ALICE]);
});
