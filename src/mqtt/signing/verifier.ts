/**
 * The embedded broker's check of signed readings (docs/mqtt.md "Signed readings"), per device
 * login, on every PUBLISH it accepts from a device:
 *
 * - a device with a public key (`hearth device add --public-key`, `hearth device key`, or learnt
 *   on first use) is `signed`: a message without an envelope is refused as `unsigned`; one whose
 *   envelope is malformed or whose signature is not its key's over (device, topic, retain flag,
 *   counter, payload) as `forged`; one whose counter is not above the last accepted as `replayed`;
 * - a device without a key is `unsigned`: its messages are not checked. An envelope it sends is
 *   unwrapped (nothing verified), unless `mqtt.signing.trust_on_first_use` is on and the envelope
 *   offers a key whose signature holds: that key is pinned, and the device is `signed` from then on.
 *
 * An accepted envelope is replaced by the payload it carries, so routing, retained storage and the
 * bridge see the convention's payload. The last counter per device is kept in memory and written
 * behind (`mqtt_device_counters`, one key per registered device, flushed at stop): a crash can
 * forget the last second's counters, which lets that second's messages be replayed once, as
 * duplicates QoS 1 allows anyway.
 *
 * A last will is signed by the device when it CONNECTs, before the messages it sends afterwards,
 * so its counter is lower than theirs: its signature is checked, its counter is not.
 */
import type { Database } from '../../storage/db.js';
import { readU64, splitStrings, tuple, u64 } from '../../storage/codec.js';
import { WriteBehind } from '../broker/write-behind.js';
import { isEnvelope, openEnvelope, verifyEnvelope, type SignedMessage } from './envelope.js';

export type SignatureRefusal = 'unsigned' | 'forged' | 'replayed';

export type SignatureVerdict =
  | {
      ok: true;
      /** The payload to use instead of the one received (it was an envelope). */
      payload?: Buffer;
      /** The accepted counter (to `release` if the message cannot be stored after all). */
      counter?: number;
      /** Whether the signature was checked against the device's key. */
      verified: boolean;
      /** The key was learnt from this message (trust on first use). */
      learnedKey?: Uint8Array;
    }
  | { ok: false; reason: SignatureRefusal };

export interface DeviceKeys {
  publicKeyOf(device: string): Uint8Array | undefined;
  /** Pins a key learnt on first use; updates `publicKeyOf` synchronously, persists in the background. */
  setPublicKey(device: string, key: Uint8Array): Promise<unknown>;
}

export interface ReadingVerifierDeps {
  db: Database;
  keys: DeviceKeys;
  /** `mqtt.signing.trust_on_first_use`. */
  trustOnFirstUse: boolean;
  /** Write-behind window of the counters (default 1,000 ms, as the broker's other mirrors). */
  flushIntervalMs?: number;
  onError(err: unknown): void;
}

/**
 * Counters of messages the storage refused after they were checked: the client sends the same
 * packet again (same counter), which must then pass once. Bounded per device.
 */
const MAX_RETRYABLE = 64;

export class ReadingVerifier {
  private readonly last = new Map<string, number>();
  private readonly retryable = new Map<string, Set<number>>();
  /** Trust-on-first-use key pins being stored (bounded by the devices: one per device, once). */
  private readonly pins = new Set<Promise<void>>();
  private readonly writes: WriteBehind;

  private constructor(private readonly deps: ReadingVerifierDeps) {
    this.writes = new WriteBehind(deps.db, deps.flushIntervalMs ?? 1000, deps.onError);
  }

  static async open(deps: ReadingVerifierDeps): Promise<ReadingVerifier> {
    const verifier = new ReadingVerifier(deps);
    for await (const [key, value] of deps.db.space('mqttDeviceCounters').iterator()) {
      verifier.last.set(splitStrings(key, 1).strings[0]!, readU64(value));
    }
    return verifier;
  }

  /**
   * Checks one message of `message.device` and, when it passes with a counter, records the counter
   * (synchronously: packets of one socket read are checked one after another, so a packet and its
   * replay in the same read cannot both pass).
   */
  check(message: SignedMessage, payload: Buffer, opts: { will?: boolean } = {}): SignatureVerdict {
    const envelope = isEnvelope(payload) ? openEnvelope(payload) : undefined;
    let key = this.deps.keys.publicKeyOf(message.device);
    let learnedKey: Uint8Array | undefined;
    if (key === undefined) {
      if (!isEnvelope(payload)) return { ok: true, verified: false };
      // Not well formed: an unsigned device's payload is passed on as it came.
      if (!envelope) return { ok: true, verified: false };
      const offered = envelope.offeredKey;
      if (!this.deps.trustOnFirstUse || !offered || !verifyEnvelope(message, envelope, offered)) {
        return { ok: true, payload: envelope.payload, verified: false };
      }
      key = learnedKey = offered;
      // In memory at once (the registry sets it before its first await); stored in the background,
      // and `flush` waits for it like for the counters.
      const pin = this.deps.keys.setPublicKey(message.device, offered).then(
        () => undefined,
        (err: unknown) => this.deps.onError(err),
      );
      this.pins.add(pin);
      void pin.finally(() => this.pins.delete(pin));
    }
    if (!isEnvelope(payload)) return { ok: false, reason: 'unsigned' };
    if (!envelope || !verifyEnvelope(message, envelope, key)) return { ok: false, reason: 'forged' };
    if (opts.will) return { ok: true, payload: envelope.payload, verified: true };
    const last = this.last.get(message.device) ?? 0;
    if (envelope.counter <= last && !this.retryable.get(message.device)?.delete(envelope.counter)) return { ok: false, reason: 'replayed' };
    if (envelope.counter > last) {
      this.last.set(message.device, envelope.counter);
      this.writes.put('mqttDeviceCounters', tuple(message.device), u64(envelope.counter));
    }
    return { ok: true, payload: envelope.payload, counter: envelope.counter, verified: true, ...(learnedKey ? { learnedKey } : {}) };
  }

  /** The message with this counter was checked but could not be stored: its resend may pass once. */
  release(device: string, counter: number): void {
    let set = this.retryable.get(device);
    if (!set) this.retryable.set(device, (set = new Set()));
    if (set.size >= MAX_RETRYABLE) set.delete(set.values().next().value!);
    set.add(counter);
  }

  /** The highest counter accepted from `device` (0: none). */
  lastCounter(device: string): number {
    return this.last.get(device) ?? 0;
  }

  /** A removed device: its counter is gone (the registry deletes the stored one). */
  forget(device: string): void {
    this.last.delete(device);
    this.retryable.delete(device);
    this.writes.del('mqttDeviceCounters', tuple(device));
  }

  async flush(): Promise<void> {
    await Promise.all([...this.pins]);
    await this.writes.flush();
  }
}
