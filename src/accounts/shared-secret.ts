/**
 * Shared-secret registration, the admin API of Synapse that tools such as `register_new_matrix_user`
 * speak (Synapse docs "Shared-Secret Registration"): a single-use nonce, and an HMAC-SHA1 keyed with
 * the registration shared secret over `nonce \0 username \0 password \0 admin|notadmin [\0 user_type]`.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { generateOpaqueId } from './tokens.js';

/** Synapse's figure: a nonce is valid for one minute. */
const NONCE_LIFETIME_MS = 60_000;
/**
 * Nonces outstanding at once. Anyone may ask for one (the GET needs no authentication), so the set
 * is bounded: past this many, the oldest is dropped (its holder asks again).
 */
const MAX_OUTSTANDING_NONCES = 1000;

export interface SharedSecretRequest {
  nonce: string;
  username: string;
  password: string;
  admin: boolean;
  userType?: string;
  mac: string;
}

export type SharedSecretCheck = 'ok' | 'unknown_nonce' | 'bad_mac';

export function sharedSecretMac(secret: string, req: Omit<SharedSecretRequest, 'mac'>): string {
  const hmac = createHmac('sha1', secret);
  const parts = [req.nonce, req.username, req.password, req.admin ? 'admin' : 'notadmin'];
  if (req.userType !== undefined) parts.push(req.userType);
  hmac.update(parts.join('\u0000'), 'utf8');
  return hmac.digest('hex');
}

export class SharedSecretRegistration {
  /** Nonce -> expiry. Every nonce lives as long, so insertion order is expiry order: the oldest is first. */
  private readonly nonces = new Map<string, number>();

  constructor(
    private readonly secret: string,
    private readonly now: () => number = Date.now,
  ) {}

  get enabled(): boolean {
    return this.secret !== '';
  }

  /** Nonces outstanding (for tests and status). */
  get outstanding(): number {
    return this.nonces.size;
  }

  issueNonce(): string {
    const now = this.now();
    // Expired ones are at the front: stop at the first live one instead of scanning them all.
    for (const [nonce, expiry] of this.nonces) {
      if (expiry >= now && this.nonces.size < MAX_OUTSTANDING_NONCES) break;
      this.nonces.delete(nonce);
    }
    const nonce = generateOpaqueId(24);
    this.nonces.set(nonce, now + NONCE_LIFETIME_MS);
    return nonce;
  }

  /** Checks a request's MAC; the nonce is consumed either way, so a wrong MAC cannot be retried with it. */
  check(req: SharedSecretRequest): SharedSecretCheck {
    const expiry = this.nonces.get(req.nonce);
    this.nonces.delete(req.nonce);
    if (expiry === undefined || expiry < this.now()) return 'unknown_nonce';
    const expected = Buffer.from(sharedSecretMac(this.secret, req), 'utf8');
    const given = Buffer.from(req.mac.toLowerCase(), 'utf8');
    return given.length === expected.length && timingSafeEqual(given, expected) ? 'ok' : 'bad_mac';
  }
}
