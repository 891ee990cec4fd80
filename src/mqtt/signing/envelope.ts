/**
 * Signed readings (issue 14, docs/mqtt.md "Signed readings"): the envelope a signing device wraps
 * each MQTT payload in, and the bytes its ed25519 signature covers. Pure: the device agent
 * (devices/agent/signing.ts) builds envelopes with it, the embedded broker (./verifier.ts) checks
 * and unwraps them, so subscribers, retained storage and the bridge see the convention's own
 * payload (Home Assistant, Zigbee2MQTT, Homie and Tasmota consumers keep working).
 *
 * An envelope is a JSON object whose text begins with exactly `{"hearth_sig":1,` (so a payload is
 * told apart with a 16-byte compare, not a parse), then:
 *   - `ctr`: a counter, a safe integer >= 1, strictly increasing per device across everything it
 *     signs (the gateway refuses one not above the last it accepted: replays);
 *   - `sig`: base64 of the 64-byte ed25519 signature of {@link signedBytes};
 *   - `key` (optional): base64 of the device's 32-byte public key, so a gateway that trusts on
 *     first use can learn it; never trusted once the gateway knows a key for the device;
 *   - `payload`: the convention's payload, as a string.
 * No other member is allowed. The signature covers the login (device name), the topic, the retain
 * flag, the counter and the payload, each separated by NUL (none of them but the payload, which
 * comes last, may contain one: names are `[a-z0-9_-]`, topics refuse U+0000 [MQTT-1.5.3-2]), after
 * a domain string: a reading signed for one topic or device cannot be replayed on another, and a
 * signature made for anything else with the same key (Matrix signing) can never pass for one.
 */
import { signBytes, verifyBytes } from '../../core/signing.js';
import { decodeBase64, encodeUnpaddedBase64 } from '../../core/base64.js';
import type { SigningKey } from '../../core/types.js';

/** The first bytes of every envelope, member order included (`JSON.stringify` keeps it). */
export const ENVELOPE_PREFIX = '{"hearth_sig":1,';
const PREFIX_BYTES = Buffer.from(ENVELOPE_PREFIX, 'utf8');
const DOMAIN = Buffer.from('hearth-reading-v1\0', 'utf8');
const ALLOWED_MEMBERS = new Set(['hearth_sig', 'ctr', 'sig', 'key', 'payload']);

export const PUBLIC_KEY_BYTES = 32;
const SIGNATURE_BYTES = 64;

/** What a message says about itself; `device` is the MQTT login (device name) that publishes it. */
export interface SignedMessage {
  device: string;
  topic: string;
  retain: boolean;
}

export interface Envelope {
  counter: number;
  signature: Uint8Array;
  /** The public key the envelope offers (trust on first use only). */
  offeredKey?: Uint8Array;
  /** The convention payload inside, as the bytes the signature covers. */
  payload: Buffer;
}

/** The bytes an envelope's signature covers. */
export function signedBytes(message: SignedMessage, counter: number, payload: Uint8Array): Buffer {
  const head = `${message.device}\0${message.topic}\0${message.retain ? 1 : 0}\0${counter}\0`;
  return Buffer.concat([DOMAIN, Buffer.from(head, 'utf8'), payload]);
}

/** Wraps `payload` for `message`, signed with `key` under `counter`. */
export function sealPayload(message: SignedMessage, payload: string, counter: number, key: SigningKey, opts: { offerKey?: boolean } = {}): string {
  if (!Number.isSafeInteger(counter) || counter < 1) throw new RangeError(`counter must be a safe integer >= 1, got ${counter}`);
  const bytes = Buffer.from(payload, 'utf8');
  const sig = encodeUnpaddedBase64(signBytes(signedBytes(message, counter, bytes), key));
  // Member order is the wire format: `hearth_sig` first (ENVELOPE_PREFIX).
  const envelope: Record<string, unknown> = { hearth_sig: 1, ctr: counter, sig };
  if (opts.offerKey) envelope.key = encodeUnpaddedBase64(key.publicKey);
  envelope.payload = bytes.toString('utf8');
  return JSON.stringify(envelope);
}

/** Whether a payload claims to be an envelope (it may still be a malformed one). */
export function isEnvelope(payload: Uint8Array): boolean {
  return payload.length > PREFIX_BYTES.length && Buffer.from(payload.buffer, payload.byteOffset, PREFIX_BYTES.length).equals(PREFIX_BYTES);
}

/**
 * The envelope in `payload`, or `undefined` when it claims to be one (`isEnvelope`) but is not
 * well formed: not JSON, a member of the wrong type, a counter that is not a safe integer >= 1, a
 * signature or key of the wrong length, an unknown member.
 */
export function openEnvelope(payload: Uint8Array): Envelope | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined;
  const o = parsed as Record<string, unknown>;
  if (o.hearth_sig !== 1 || Object.keys(o).some((k) => !ALLOWED_MEMBERS.has(k))) return undefined;
  const { ctr, sig, key, payload: inner } = o;
  if (typeof ctr !== 'number' || !Number.isSafeInteger(ctr) || ctr < 1) return undefined;
  if (typeof sig !== 'string' || typeof inner !== 'string') return undefined;
  const signature = decodeKeyMaterial(sig, SIGNATURE_BYTES);
  if (!signature) return undefined;
  let offeredKey: Uint8Array | undefined;
  if (key !== undefined) {
    if (typeof key !== 'string') return undefined;
    offeredKey = decodeKeyMaterial(key, PUBLIC_KEY_BYTES);
    if (!offeredKey) return undefined;
  }
  return { counter: ctr, signature, payload: Buffer.from(inner, 'utf8'), ...(offeredKey ? { offeredKey } : {}) };
}

/** Whether the envelope's signature is `publicKey`'s over `message`. */
export function verifyEnvelope(message: SignedMessage, envelope: Envelope, publicKey: Uint8Array): boolean {
  return verifyBytes(signedBytes(message, envelope.counter, envelope.payload), envelope.signature, publicKey);
}

/** A device public key as given to `hearth device add --public-key`: base64 of 32 bytes, or undefined. */
export function parsePublicKey(text: string): Uint8Array | undefined {
  return decodeKeyMaterial(text.trim(), PUBLIC_KEY_BYTES);
}

function decodeKeyMaterial(text: string, bytes: number): Uint8Array | undefined {
  try {
    const decoded = decodeBase64(text);
    return decoded.length === bytes ? decoded : undefined;
  } catch {
    return undefined;
  }
}
