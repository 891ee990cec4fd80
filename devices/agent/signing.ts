/**
 * The agent's signing key and counter (docs/mqtt.md "Signed readings"): every message it publishes
 * is wrapped in the envelope of src/mqtt/signing/envelope.ts, signed with the device's ed25519 key
 * (src/core/signing.ts, the gateway's own helpers) under a counter that never repeats.
 *
 * - The key is generated on first run into `key_file` (JSON with the 32-byte seed, mode 0600) and
 *   its public half into `<key_file>.pub` (one line of base64), what `hearth device add NAME
 *   --public-key-file` reads on the gateway.
 * - The counter must rise across restarts without a flash write per message: `<key_file>.counter`
 *   holds a ceiling reserved ahead (blocks of 4,096, written and fsync'ed before the first counter
 *   of a block is used); a restart continues above the last ceiling. The wall clock in milliseconds
 *   is a floor too, so a lost counter file does not lock the device out (as long as the clock is
 *   right), and a clock that steps back (a Pi without RTC) does not either.
 * Messages are signed when they are sent, not when recorded: a reading replayed from the offline
 * queue gets a fresh counter, so the gateway never sees an old counter from a live device.
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeFileSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { decodeBase64, encodeUnpaddedBase64 } from '../../src/core/base64.js';
import { generateSigningKey, signingKeyFromSeed } from '../../src/core/signing.js';
import type { SigningKey } from '../../src/core/types.js';
import { sealPayload } from '../../src/mqtt/signing/envelope.js';
import type { OutboundMessage } from './device.js';

/** Counters reserved per write of the counter file. */
const COUNTER_BLOCK = 4096;

/** Seals messages for the agent (`DeviceAgentOptions.signer`). */
export interface MessageSigner {
  /** The message with its payload wrapped and signed; `offerKey` adds the public key (announcements). */
  seal(message: OutboundMessage, opts: { offerKey: boolean }): OutboundMessage;
}

export class ReadingSigner implements MessageSigner {
  private constructor(
    private readonly key: SigningKey,
    /** The MQTT login (device name) the signatures are bound to. */
    private readonly device: string,
    private readonly counter: CounterReservation,
  ) {}

  /** Opens the key at `keyFile`, generating it (and its `.pub`) when there is none. */
  static open(keyFile: string, device: string): ReadingSigner {
    return new ReadingSigner(loadOrCreateKey(keyFile), device, new CounterReservation(`${keyFile}.counter`));
  }

  /** Unpadded base64 of the public key. */
  get publicKey(): string {
    return encodeUnpaddedBase64(this.key.publicKey);
  }

  seal(message: OutboundMessage, opts: { offerKey: boolean }): OutboundMessage {
    const payload = sealPayload({ device: this.device, topic: message.topic, retain: message.retain }, message.payload, this.counter.next(), this.key, opts);
    return { ...message, payload };
  }
}

/** The public key of the key at `keyFile` (generated when missing), for `--public-key`. */
export function publicKeyOf(keyFile: string): string {
  return encodeUnpaddedBase64(loadOrCreateKey(keyFile).publicKey);
}

function loadOrCreateKey(keyFile: string): SigningKey {
  if (existsSync(keyFile)) {
    let seed: Uint8Array;
    try {
      const stored = JSON.parse(readFileSync(keyFile, 'utf8')) as { algorithm?: unknown; seed?: unknown };
      if (stored.algorithm !== 'ed25519' || typeof stored.seed !== 'string') throw new Error('not an ed25519 key file');
      seed = decodeBase64(stored.seed);
    } catch (err) {
      throw new Error(`key_file ${keyFile}: ${(err as Error).message}`);
    }
    return signingKeyFromSeed(seed, 'ed25519:agent');
  }
  const key = generateSigningKey();
  mkdirSync(dirname(keyFile), { recursive: true, mode: 0o700 });
  const publicKey = encodeUnpaddedBase64(key.publicKey);
  // 'wx': two agents starting at once on one file cannot both write a key.
  writeFileSync(keyFile, `${JSON.stringify({ algorithm: 'ed25519', seed: encodeUnpaddedBase64(key.secretKey), public_key: publicKey })}\n`, { mode: 0o600, flag: 'wx' });
  writeFileSync(`${keyFile}.pub`, `${publicKey}\n`, { mode: 0o644 });
  return key;
}

/** Counters that never repeat across restarts, with one durable write per block (header). */
class CounterReservation {
  private current: number;
  private ceiling: number;

  constructor(private readonly path: string) {
    let stored = 0;
    if (existsSync(path)) {
      stored = Number(readFileSync(path, 'utf8').trim());
      if (!Number.isSafeInteger(stored) || stored < 0) throw new Error(`${path}: not a counter`);
    }
    this.current = Math.max(stored, Date.now());
    this.ceiling = this.current;
  }

  next(): number {
    this.current++;
    if (this.current >= this.ceiling) {
      this.ceiling = this.current + COUNTER_BLOCK;
      writeDurably(this.path, `${this.ceiling}\n`);
    }
    return this.current;
  }
}

/** Write to a temporary file, fsync, rename over: the file holds the old or the new value, never a torn one. */
function writeDurably(path: string, text: string): void {
  const temporary = `${path}.tmp`;
  const fd = openSync(temporary, 'w', 0o600);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temporary, path);
}
