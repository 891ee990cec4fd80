/** Opaque secrets handed to clients: access tokens, device ids, UIA sessions, nonces. */
import { hash, randomBytes } from 'node:crypto';

/** An access token: 32 random bytes, URL-safe; the `syt_`-like prefix helps secret scanners spot leaks. */
export function generateAccessToken(): string {
  return `hth_${randomBytes(32).toString('base64url')}`;
}

/** Tokens are stored and cached by this hash only, so a database dump does not reveal live tokens. */
export function hashToken(token: string): string {
  // One-shot hash (Node >= 20.12): no Hash object per authenticated request.
  return hash('sha256', token, 'hex');
}

/** A device id: 10 upper-case letters, like other servers mint, easy to read out loud in a device list. */
export function generateDeviceId(): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
  const bytes = randomBytes(10);
  return Array.from(bytes, (b) => alphabet[b % alphabet.length]).join('');
}

/** A random opaque identifier (UIA sessions, shared-secret nonces). */
export function generateOpaqueId(bytes = 18): string {
  return randomBytes(bytes).toString('base64url');
}
