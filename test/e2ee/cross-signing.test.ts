/** /keys/device_signing/upload and /keys/signatures/upload, and what /keys/query shows of them. */
import test from 'ava';
import { signJson } from '../../src/core/signing.js';
import { authAs, makeCrossSigningKey, makeDevice, openE2eeStack, post, type CrossSigningKeyPair } from './stack.js';

const ALICE = '@alice:test.local';
const BOB = '@bob:test.local';
const CAROL = '@carol:test.local';
const UPLOAD = '/_matrix/client/v3/keys/device_signing/upload';
const SIGNATURES = '/_matrix/client/v3/keys/signatures/upload';
const QUERY = '/_matrix/client/v3/keys/query';

function crossSigningSet(userId: string): { master: CrossSigningKeyPair; selfSigning: CrossSigningKeyPair; userSigning: CrossSigningKeyPair } {
  const master = makeCrossSigningKey(userId, 'master');
  return {
    master,
    selfSigning: makeCrossSigningKey(userId, 'self_signing', master),
    userSigning: makeCrossSigningKey(userId, 'user_signing', master),
  };
}

function uploadBody(set: ReturnType<typeof crossSigningSet>) {
  return { master_key: set.master.body, self_signing_key: set.selfSigning.body, user_signing_key: set.userSigning.body };
}

test('first upload needs no UIA; query shows master and self-signing keys to all, user-signing only to the owner', async (t) => {
  const s = await openE2eeStack();
  t.teardown(() => s.close());
  const alice = crossSigningSet(ALICE);
  const up = await post(s.app, UPLOAD, authAs(ALICE), uploadBody(alice));
  t.is(up.status, 200);
  t.deepEqual(up.body, {});

  const own = await post(s.app, QUERY, authAs(ALICE), { device_keys: { [ALICE]: [] } });
  t.deepEqual(own.body.master_keys[ALICE], alice.master.body);
  t.deepEqual(own.body.self_signing_keys[ALICE], alice.selfSigning.body);
  t.deepEqual(own.body.user_signing_keys[ALICE], alice.userSigning.body);

  const other = await post(s.app, QUERY, authAs(BOB), { device_keys: { [ALICE]: [] } });
  t.deepEqual(other.body.master_keys[ALICE], alice.master.body);
  t.deepEqual(other.body.self_signing_keys[ALICE], alice.selfSigning.body);
  t.deepEqual(other.body.user_signing_keys, {});
  // The upload is a device list change of Alice.
  t.deepEqual((await s.e2ee.deviceListsSince(ALICE, 0, s.notifier.position)).changed, [ALICE]);
});

test('replacing keys requires the password; uploading the same keys again does not', async (t) => {
  const s = await openE2eeStack();
  t.teardown(() => s.close());
  s.passwords.set(ALICE, 'correct horse');
  const first = crossSigningSet(ALICE);
  t.is((await post(s.app, UPLOAD, authAs(ALICE), uploadBody(first))).status, 200);
  // Idempotent retry: no UIA (cross_signing.yaml exemption 2).
  t.is((await post(s.app, UPLOAD, authAs(ALICE), uploadBody(first))).status, 200);

  const second = crossSigningSet(ALICE);
  const challenge = await post(s.app, UPLOAD, authAs(ALICE), uploadBody(second));
  t.is(challenge.status, 401);
  t.deepEqual(challenge.body.flows, [{ stages: ['m.login.password'] }]);
  t.is(typeof challenge.body.session, 'string');

  const session = challenge.body.session as string;
  const wrong = await post(s.app, UPLOAD, authAs(ALICE), {
    ...uploadBody(second),
    auth: { type: 'm.login.password', identifier: { type: 'm.id.user', user: 'alice' }, password: 'wrong', session },
  });
  t.is(wrong.status, 401);
  t.is(wrong.body.errcode, 'M_FORBIDDEN');
  const otherUser = await post(s.app, UPLOAD, authAs(ALICE), {
    ...uploadBody(second),
    auth: { type: 'm.login.password', identifier: { type: 'm.id.user', user: BOB }, password: 'correct horse', session },
  });
  t.is(otherUser.status, 401);
  const q0 = await post(s.app, QUERY, authAs(ALICE), { device_keys: { [ALICE]: [] } });
  t.deepEqual(q0.body.master_keys[ALICE], first.master.body);

  const ok = await post(s.app, UPLOAD, authAs(ALICE), {
    ...uploadBody(second),
    auth: { type: 'm.login.password', identifier: { type: 'm.id.user', user: 'alice' }, password: 'correct horse', session },
  });
  t.is(ok.status, 200);
  const q = await post(s.app, QUERY, authAs(ALICE), { device_keys: { [ALICE]: [] } });
  t.deepEqual(q.body.master_keys[ALICE], second.master.body);
  t.deepEqual(q.body.user_signing_keys[ALICE], second.userSigning.body);
});

test('sub-keys must be signed by the master key, belong to the requester and not clash with device ids', async (t) => {
  const s = await openE2eeStack();
  t.teardown(() => s.close());
  const master = makeCrossSigningKey(ALICE, 'master');
  const stranger = makeCrossSigningKey(ALICE, 'master');
  const unsigned = makeCrossSigningKey(ALICE, 'self_signing', stranger);
  const bad = await post(s.app, UPLOAD, authAs(ALICE), { master_key: master.body, self_signing_key: unsigned.body });
  t.is(bad.status, 400);
  t.is(bad.body.errcode, 'M_INVALID_SIGNATURE');

  const noMaster = await post(s.app, UPLOAD, authAs(ALICE), { self_signing_key: makeCrossSigningKey(ALICE, 'self_signing', master).body });
  t.is(noMaster.status, 400);
  t.is(noMaster.body.errcode, 'M_MISSING_PARAM');

  const bobs = makeCrossSigningKey(BOB, 'master');
  t.is((await post(s.app, UPLOAD, authAs(ALICE), { master_key: bobs.body })).body.errcode, 'M_INVALID_PARAM');
  t.is((await post(s.app, UPLOAD, authAs(ALICE), { master_key: { ...master.body, usage: ['self_signing'] } })).body.errcode, 'M_BAD_JSON');

  s.addDevice(ALICE, master.publicKey);
  const clash = await post(s.app, UPLOAD, authAs(ALICE), { master_key: master.body });
  t.is(clash.status, 403);
  t.is(clash.body.errcode, 'M_FORBIDDEN');

  // Alone, once the master key exists, a sub-key is checked against the stored master.
  s.devices.clear();
  t.is((await post(s.app, UPLOAD, authAs(ALICE), { master_key: master.body })).status, 200);
  t.is((await post(s.app, UPLOAD, authAs(ALICE), { self_signing_key: makeCrossSigningKey(ALICE, 'self_signing', master).body })).status, 401);
});

test('signatures: self-signing key on a device, device on the master key, user-signing key on another master key', async (t) => {
  const s = await openE2eeStack();
  t.teardown(() => s.close());
  s.addDevice(ALICE, 'ALICEPHONE');
  const phone = makeDevice(ALICE, 'ALICEPHONE');
  await post(s.app, '/_matrix/client/v3/keys/upload', authAs(ALICE, 'ALICEPHONE'), { device_keys: phone.deviceKeys });
  const alice = crossSigningSet(ALICE);
  const bob = crossSigningSet(BOB);
  await post(s.app, UPLOAD, authAs(ALICE), uploadBody(alice));
  await post(s.app, UPLOAD, authAs(BOB), uploadBody(bob));

  const deviceSigned = signJson(phone.deviceKeys, ALICE, alice.selfSigning.key);
  const masterSigned = signJson(alice.master.body, ALICE, phone.key);
  const bobMasterSigned = signJson(bob.master.body, ALICE, alice.userSigning.key);
  const res = await post(s.app, SIGNATURES, authAs(ALICE, 'ALICEPHONE'), {
    [ALICE]: { ALICEPHONE: deviceSigned, [alice.master.publicKey]: masterSigned },
    [BOB]: { [bob.master.publicKey]: bobMasterSigned },
  });
  t.is(res.status, 200);
  t.deepEqual(res.body, { failures: {} });

  const byBob = await post(s.app, QUERY, authAs(BOB), { device_keys: { [ALICE]: [], [BOB]: [] } });
  t.deepEqual(byBob.body.device_keys[ALICE].ALICEPHONE.signatures, deviceSigned.signatures);
  t.deepEqual(byBob.body.master_keys[ALICE].signatures, masterSigned.signatures);
  // A user-signing signature is seen by its signer only ("Key and signature security"): not by Bob.
  t.deepEqual(byBob.body.master_keys[BOB].signatures ?? {}, bob.master.body.signatures ?? {});
  const byAlice = await post(s.app, QUERY, authAs(ALICE), { device_keys: { [BOB]: [] } });
  t.deepEqual(byAlice.body.master_keys[BOB].signatures, bobMasterSigned.signatures);
  const byCarol = await post(s.app, QUERY, authAs(CAROL), { device_keys: { [BOB]: [] } });
  t.deepEqual(byCarol.body.master_keys[BOB].signatures ?? {}, {});
});

test('signature uploads that do not check out are reported per key', async (t) => {
  const s = await openE2eeStack();
  t.teardown(() => s.close());
  s.addDevice(ALICE, 'ALICEPHONE');
  const phone = makeDevice(ALICE, 'ALICEPHONE');
  await post(s.app, '/_matrix/client/v3/keys/upload', authAs(ALICE, 'ALICEPHONE'), { device_keys: phone.deviceKeys });
  const alice = crossSigningSet(ALICE);
  const bob = crossSigningSet(BOB);
  await post(s.app, UPLOAD, authAs(ALICE), uploadBody(alice));
  await post(s.app, UPLOAD, authAs(BOB), uploadBody(bob));

  const res = await post(s.app, SIGNATURES, authAs(ALICE), {
    [ALICE]: {
      // Signed by the user-signing key, which may not sign devices.
      ALICEPHONE: signJson(phone.deviceKeys, ALICE, alice.userSigning.key),
      NODEVICE: signJson({ ...phone.deviceKeys, device_id: 'NODEVICE' }, ALICE, alice.selfSigning.key),
    },
    [BOB]: {
      // Not the stored key: the content differs.
      [bob.master.publicKey]: signJson({ ...bob.master.body, usage: ['master', 'extra'] }, ALICE, alice.userSigning.key),
    },
  });
  t.is(res.status, 200);
  t.is(res.body.failures[ALICE].ALICEPHONE.errcode, 'M_INVALID_SIGNATURE');
  t.is(res.body.failures[ALICE].NODEVICE.errcode, 'M_NOT_FOUND');
  t.is(res.body.failures[BOB][bob.master.publicKey].errcode, 'M_INVALID_PARAM');
  // Nothing was added: the device keys carry only the device's own signature.
  const q = await post(s.app, QUERY, authAs(ALICE), { device_keys: { [ALICE]: [] } });
  t.deepEqual(Object.keys(q.body.device_keys[ALICE].ALICEPHONE.signatures[ALICE]), ['ed25519:ALICEPHONE']);
});
