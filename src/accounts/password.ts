/**
 * Password hashing with scrypt (node:crypto, async). The parameters and salt are stored with the hash
 * as `scrypt$N$r$p$salt$hash` (base64), so they can be raised later without breaking old hashes.
 */
import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { limitExceeded } from '../limits/client-limits.js';
import { BoundedWorkQueue, WorkQueueFullError } from '../limits/work-queue.js';

/** N=2^14, r=8, p=1: ~16 MiB and tens of milliseconds on a Raspberry Pi 4, within Node's default maxmem. */
const DEFAULT_PARAMS = { N: 16384, r: 8, p: 1 };
const KEY_LENGTH = 32;
const SALT_LENGTH = 16;

/**
 * Every scrypt of the process (logins, registrations, MQTT CONNECTs) goes through this queue: one
 * at a time on libuv's thread pool, which LevelDB shares (limits/work-queue.ts), and at most 64
 * waiting (~4 s of hashing); beyond that callers get 429 M_LIMIT_EXCEEDED at once (CONNACK 3 on MQTT).
 */
const passwordQueue = new BoundedWorkQueue({ name: 'password hashing', concurrency: 1, maxWaiting: 64, typicalJobMs: 60 });

let completedHashes = 0;

/** Work of the password queue: hashes finished since start, and those running and waiting now. */
export function passwordHashingStats(): { completed: number; running: number; waiting: number } {
  return { completed: completedHashes, ...passwordQueue.depth };
}

async function scryptAsync(password: string, salt: Buffer, keyLength: number, options: ScryptOptions): Promise<Buffer> {
  try {
    return await passwordQueue.run(
      () =>
        new Promise<Buffer>((resolve, reject) => {
          scrypt(password.normalize('NFKC'), salt, keyLength, { ...options, maxmem: 64 * 1024 * 1024 }, (err, key) => {
            completedHashes++;
            if (err) reject(err);
            else resolve(key);
          });
        }),
    );
  } catch (err) {
    // A full queue is "too many requests" (429 M_LIMIT_EXCEEDED; CONNACK 3 on MQTT), not a fault.
    if (err instanceof WorkQueueFullError) throw limitExceeded(err.retryAfterMs, 'password checks at once: the server is busy');
    throw err;
  }
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(SALT_LENGTH);
  const { N, r, p } = DEFAULT_PARAMS;
  const key = await scryptAsync(password, salt, KEY_LENGTH, { N, r, p });
  return ['scrypt', N, r, p, salt.toString('base64'), key.toString('base64')].join('$');
}

/** Constant-time check of a password against a stored hash; false for malformed hashes. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [N, r, p] = parts.slice(1, 4).map(Number) as [number, number, number];
  const salt = Buffer.from(parts[4]!, 'base64');
  const expected = Buffer.from(parts[5]!, 'base64');
  if (![N, r, p].every((n) => Number.isInteger(n) && n > 0) || expected.length === 0) return false;
  const key = await scryptAsync(password, salt, expected.length, { N, r, p });
  return timingSafeEqual(key, expected);
}

/**
 * A hash no password matches (random salt and key), with the default parameters: checking a
 * password against it costs exactly what checking a real account's does, so an unknown user (or one
 * without a password) answers as slowly as a known one and the timing does not tell who exists.
 */
const UNMATCHABLE_HASH = ['scrypt', DEFAULT_PARAMS.N, DEFAULT_PARAMS.r, DEFAULT_PARAMS.p, randomBytes(SALT_LENGTH).toString('base64'), randomBytes(KEY_LENGTH).toString('base64')].join('$');

/** Spends a password check's time and answers false (for accounts that do not exist). */
export async function verifyPasswordOfNobody(password: string): Promise<false> {
  await verifyPassword(password, UNMATCHABLE_HASH);
  return false;
}
