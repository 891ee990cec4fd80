import test from 'ava';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeUnpaddedBase64 } from '../../src/core/base64.js';
import { verifyJsonSignature } from '../../src/core/signing.js';
import { runKeyCommand } from '../../src/cli/key.js';
import { defaultConfig } from '../../src/config/config.js';
import { checkKeyResponse } from '../../src/federation/keys/key-validity.js';
import { loadOrCreateKeyring, OLD_SIGNING_KEYS_FILE, rotateSigningKey, SIGNING_KEY_FILE } from '../../src/federation/keys/key-files.js';
import { Database } from '../../src/storage/db.js';

function tempDir(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'hearth-keys-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('the first load makes a key in Synapse\'s format; later loads read the same key', (t) => {
  const dir = tempDir(t);
  const first = loadOrCreateKeyring(dir, 'home.test');
  const line = readFileSync(join(dir, SIGNING_KEY_FILE), 'utf8');
  t.regex(line, /^ed25519 [A-Za-z0-9_]+ [A-Za-z0-9+/]{43}\n$/);
  t.is(line.split(' ')[1], first.current.keyId.slice('ed25519:'.length));
  const again = loadOrCreateKeyring(dir, 'home.test');
  t.deepEqual(again.current.publicKey, first.current.publicKey);
  t.deepEqual(again.old, []);
});

test('rotation: the old key moves to old_verify_keys with expired_ts; the published set is signed by the new key only', (t) => {
  const dir = tempDir(t);
  const before = loadOrCreateKeyring(dir, 'home.test').current;
  const { retired, current } = rotateSigningKey(dir, 'home.test', 1_700_000_000_000);
  t.is(retired.keyId, before.keyId);
  t.not(current.keyId, before.keyId);

  const keyring = loadOrCreateKeyring(dir, 'home.test');
  t.is(keyring.current.keyId, current.keyId);
  const published = keyring.publishedKeys(1_700_000_000_500) as Record<string, any>;
  t.deepEqual(published.verify_keys, { [current.keyId]: { key: encodeUnpaddedBase64(current.publicKey) } });
  t.deepEqual(published.old_verify_keys, { [before.keyId]: { key: encodeUnpaddedBase64(before.publicKey), expired_ts: 1_700_000_000_000 } });
  t.deepEqual(Object.keys(published.signatures['home.test']), [current.keyId]);
  t.true(verifyJsonSignature(published, 'home.test', current.keyId, current.publicKey));
  // What another server makes of it: the new key current, the old one valid until it expired.
  const check = checkKeyResponse('home.test', published, 1_700_000_001_000);
  if (!check.ok) return t.fail(check.reason);
  t.is(check.keys.get(before.keyId)?.expiredTs, 1_700_000_000_000);
  t.is(check.keys.get(current.keyId)?.validUntilTs, published.valid_until_ts);

  // A second rotation keeps the first retired key.
  rotateSigningKey(dir, 'home.test', 1_700_000_100_000);
  t.is(loadOrCreateKeyring(dir, 'home.test').old.length, 2);
});

test('a rotation cut short between its two writes leaves the current key current, not also old', (t) => {
  const dir = tempDir(t);
  const key = loadOrCreateKeyring(dir, 'home.test').current;
  writeFileSync(join(dir, OLD_SIGNING_KEYS_FILE), `ed25519 ${key.keyId.slice(8)} ${encodeUnpaddedBase64(key.publicKey)} 5\n`);
  const keyring = loadOrCreateKeyring(dir, 'home.test');
  t.is(keyring.current.keyId, key.keyId);
  t.deepEqual(keyring.old, []);
});

test('a damaged old_signing_keys file is reported with its line', (t) => {
  const dir = tempDir(t);
  loadOrCreateKeyring(dir, 'home.test');
  writeFileSync(join(dir, OLD_SIGNING_KEYS_FILE), '# retired keys\ned25519 abc\n');
  t.throws(() => loadOrCreateKeyring(dir, 'home.test'), { message: /line 2/ });
});

test('hearth key rotate and show; rotate refuses while the gateway holds the database', async (t) => {
  const dir = tempDir(t);
  const config = { ...defaultConfig(dir), serverName: 'home.test' };
  const out: string[] = [];
  const err: string[] = [];
  const io = { config, out: (l: string) => out.push(l), err: (l: string) => err.push(l), now: () => 1_700_000_000_000 };
  t.is(await runKeyCommand(['show'], io), 0);
  const firstId = out[0]!.split(' ')[0]!;
  t.regex(out[0]!, /^ed25519:\S+ \S{43} \(current\)$/);
  out.length = 0;
  t.is(await runKeyCommand(['rotate'], io), 0);
  t.is(out[0], `retired ${firstId} (now in old_verify_keys, expired 2023-11-14T22:13:20.000Z)`);
  out.length = 0;
  t.is(await runKeyCommand(['show'], io), 0);
  t.is(out.length, 2);
  t.true(out[1]!.startsWith(`${firstId} `));

  const db = await Database.open(join(dir, 'db'), config.storage);
  try {
    t.is(await runKeyCommand(['rotate'], io), 1);
    t.regex(err.at(-1)!, /gateway is running/);
  } finally {
    await db.close();
  }
  t.is(await runKeyCommand(['spin'], io), 2);
});
