/**
 * The server's signing key, generated once and kept in `<data>/signing.key` in Synapse's format
 * (`ed25519 <version> <unpadded base64 seed>`), so the key can be moved between servers.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeBase64, encodeUnpaddedBase64 } from '../core/base64.js';
import { generateSigningKey, signingKeyFromSeed } from '../core/signing.js';
import type { SigningKey } from '../core/types.js';

export function loadOrCreateSigningKey(dataDir: string): SigningKey {
  const file = join(dataDir, 'signing.key');
  if (existsSync(file)) {
    const [alg, version, seed] = readFileSync(file, 'utf8').trim().split(/\s+/);
    if (alg !== 'ed25519' || !version || !seed) throw new Error(`${file} is not an ed25519 signing key`);
    return signingKeyFromSeed(decodeBase64(seed), `ed25519:${version}`);
  }
  const key = generateSigningKey();
  writeFileSync(file, `ed25519 ${key.keyId.slice('ed25519:'.length)} ${encodeUnpaddedBase64(key.secretKey)}\n`, { mode: 0o600 });
  return key;
}
