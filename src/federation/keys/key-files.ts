/**
 * The server's own signing keys on disk, in the data directory:
 * - `signing.key`: the current key in Synapse's format (`ed25519 <version> <unpadded base64 seed>`),
 *   so a key can move between servers;
 * - `old_signing_keys`: keys retired by `hearth key rotate`, one a line,
 *   `ed25519 <version> <unpadded base64 public key> <expired_ts>` (only the public half is kept:
 *   they are published in `old_verify_keys` so that events signed with them still verify).
 * Files are replaced by write-then-rename, so a crash leaves the old or the new file, never half.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeBase64, encodeUnpaddedBase64 } from '../../core/base64.js';
import { generateSigningKey, signingKeyFromSeed } from '../../core/signing.js';
import type { SigningKey } from '../../core/types.js';
import { ServerKeyring, type OldVerifyKey } from './keyring.js';

export const SIGNING_KEY_FILE = 'signing.key';
export const OLD_SIGNING_KEYS_FILE = 'old_signing_keys';

function writeAtomically(file: string, text: string): void {
  const temp = `${file}.tmp`;
  writeFileSync(temp, text, { mode: 0o600 });
  renameSync(temp, file);
}

function formatSigningKey(key: SigningKey): string {
  return `ed25519 ${key.keyId.slice('ed25519:'.length)} ${encodeUnpaddedBase64(key.secretKey)}\n`;
}

function readSigningKey(file: string): SigningKey {
  const [alg, version, seed] = readFileSync(file, 'utf8').trim().split(/\s+/);
  if (alg !== 'ed25519' || !version || !seed) throw new Error(`${file} is not an ed25519 signing key`);
  return signingKeyFromSeed(decodeBase64(seed), `ed25519:${version}`);
}

function readOldKeys(file: string): OldVerifyKey[] {
  if (!existsSync(file)) return [];
  const keys: OldVerifyKey[] = [];
  for (const [n, line] of readFileSync(file, 'utf8').split('\n').entries()) {
    if (line.trim() === '' || line.startsWith('#')) continue;
    const [alg, version, publicKey, expired] = line.trim().split(/\s+/);
    const expiredTs = Number(expired);
    if (alg !== 'ed25519' || !version || !publicKey || !Number.isSafeInteger(expiredTs)) {
      throw new Error(`${file} line ${n + 1}: expected "ed25519 <version> <public key> <expired_ts>"`);
    }
    keys.push({ keyId: `ed25519:${version}`, publicKey: decodeBase64(publicKey), expiredTs });
  }
  return keys;
}

function formatOldKeys(keys: readonly OldVerifyKey[]): string {
  return keys.map((k) => `ed25519 ${k.keyId.slice('ed25519:'.length)} ${encodeUnpaddedBase64(k.publicKey)} ${k.expiredTs}\n`).join('');
}

/** The keyring of a data directory; the first run generates the signing key. */
export function loadOrCreateKeyring(dataDir: string, serverName: string): ServerKeyring {
  const file = join(dataDir, SIGNING_KEY_FILE);
  if (!existsSync(file)) writeAtomically(file, formatSigningKey(generateSigningKey()));
  const current = readSigningKey(file);
  // A rotation cut short between its two renames leaves the current key in both files.
  const old = readOldKeys(join(dataDir, OLD_SIGNING_KEYS_FILE)).filter((k) => k.keyId !== current.keyId);
  return new ServerKeyring(serverName, current, old);
}

/**
 * Retires the current key (it joins `old_signing_keys`, expired now) and makes a new one current.
 * Run while the gateway is stopped: the running engine signs with the key it started with.
 */
export function rotateSigningKey(dataDir: string, serverName: string, nowMs: number): { retired: OldVerifyKey; current: SigningKey } {
  const keyring = loadOrCreateKeyring(dataDir, serverName);
  const retired: OldVerifyKey = { keyId: keyring.current.keyId, publicKey: keyring.current.publicKey, expiredTs: nowMs };
  let next = generateSigningKey();
  const taken = new Set([keyring.current.keyId, ...keyring.old.map((k) => k.keyId)]);
  while (taken.has(next.keyId)) next = generateSigningKey();
  // Old keys first: should the second rename never happen, the current key is still current.
  writeAtomically(join(dataDir, OLD_SIGNING_KEYS_FILE), formatOldKeys([...keyring.old, retired]));
  writeAtomically(join(dataDir, SIGNING_KEY_FILE), formatSigningKey(next));
  return { retired, current: next };
}
