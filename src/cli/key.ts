/**
 * `hearth key show` and `hearth key rotate`: the server's signing keys (server-server "Publishing
 * Keys"; files in `federation/keys/key-files.ts`). Rotating retires the current key into
 * `old_verify_keys` (expired now: events it signed until now still verify) and makes a new one.
 *
 * Rotation needs the gateway stopped: the running engine signs events and requests with the key it
 * loaded at start, and a key published as expired but still signing would make its new events fail
 * verification everywhere. The database lock tells whether the gateway runs.
 */
import { join } from 'node:path';
import { encodeUnpaddedBase64 } from '../core/base64.js';
import { loadConfig, type HearthConfig } from '../config/config.js';
import { loadOrCreateKeyring, rotateSigningKey } from '../federation/keys/key-files.js';
import { Database } from '../storage/db.js';

export interface KeyCommandContext {
  config: HearthConfig;
  out(line: string): void;
  err(line: string): void;
  now(): number;
}

const USAGE = 'usage: hearth key show | hearth key rotate';

/** Runs `hearth key ...` (argv after `key`); returns the process exit code. */
export async function runKeyCommand(argv: string[], context?: Partial<KeyCommandContext>): Promise<number> {
  const out = context?.out ?? ((line: string) => process.stdout.write(`${line}\n`));
  const err = context?.err ?? ((line: string) => process.stderr.write(`${line}\n`));
  const [sub, ...rest] = argv;
  if ((sub !== 'show' && sub !== 'rotate') || rest.length > 0) {
    err(USAGE);
    return 2;
  }
  const config = context?.config ?? loadConfig();
  const now = context?.now ?? Date.now;
  try {
    if (sub === 'show') {
      const keyring = loadOrCreateKeyring(config.dataDir, config.serverName);
      out(`${keyring.current.keyId} ${encodeUnpaddedBase64(keyring.current.publicKey)} (current)`);
      for (const old of keyring.old) out(`${old.keyId} ${encodeUnpaddedBase64(old.publicKey)} (expired ${new Date(old.expiredTs).toISOString()})`);
      return 0;
    }
    await requireGatewayStopped(config);
    const { retired, current } = rotateSigningKey(config.dataDir, config.serverName, now());
    out(`retired ${retired.keyId} (now in old_verify_keys, expired ${new Date(retired.expiredTs).toISOString()})`);
    out(`current ${current.keyId} ${encodeUnpaddedBase64(current.publicKey)}`);
    return 0;
  } catch (e) {
    err(`hearth key ${sub}: ${(e as Error).message}`);
    return 1;
  }
}

async function requireGatewayStopped(config: HearthConfig): Promise<void> {
  let db: Database;
  try {
    db = await Database.open(join(config.dataDir, 'db'), config.storage);
  } catch (e) {
    if ((e as Error).message.includes('in use by another process')) {
      throw new Error('the gateway is running: stop it, rotate, then start it (it signs with the key it loaded at start)');
    }
    throw e;
  }
  await db.close();
}
