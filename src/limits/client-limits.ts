/**
 * The rate limits of the Client-Server API and of MQTT CONNECT, with Synapse's semantics:
 * - `rc_login.address`: every login attempt, per client address;
 * - `rc_login.account`: every login attempt, per account named;
 * - `rc_login.failed_attempts`: wrong passwords per account; an account over it is refused before
 *   its password is checked (so guessing stops, and no scrypt is spent);
 * - `rc_registration`: accounts created per client address;
 * - `rc_message`: events sent per user;
 * - `rc_mqtt_connect`: wrong MQTT credentials per client address and per username.
 * Refusals are 429 M_LIMIT_EXCEEDED with `retry_after_ms` (client-server-api "Rate limiting").
 */
import type { HearthConfig } from '../config/config.js';
import { ErrCode, MatrixError } from '../core/errors.js';
import { RateLimiter, addressKey } from './rate-limiter.js';

export function limitExceeded(retryAfterMs: number, what: string): MatrixError {
  return new MatrixError(429, ErrCode.LIMIT_EXCEEDED, `Too many ${what}: retry in ${Math.ceil(retryAfterMs / 1000)} s`, {
    retry_after_ms: retryAfterMs,
  });
}

function check(wait: number, what: string): void {
  if (wait > 0) throw limitExceeded(wait, what);
}

export class ClientRateLimits {
  private readonly loginAddress: RateLimiter;
  private readonly loginAccount: RateLimiter;
  private readonly loginFailures: RateLimiter;
  private readonly registrations: RateLimiter;
  private readonly messages: RateLimiter;

  constructor(config: HearthConfig['rateLimits'], now?: () => number) {
    const opts = now ? { now } : {};
    this.loginAddress = new RateLimiter(config.rcLogin.address, opts);
    this.loginAccount = new RateLimiter(config.rcLogin.account, opts);
    this.loginFailures = new RateLimiter(config.rcLogin.failedAttempts, opts);
    this.registrations = new RateLimiter(config.rcRegistration, opts);
    this.messages = new RateLimiter(config.rcMessage, opts);
  }

  /** Before a password login is checked: throws 429 when the address, the account or its failures are over. */
  beforeLogin(address: string | undefined, account: string): void {
    check(this.loginFailures.retryAfterMs(account), 'failed login attempts for this account');
    check(this.loginAddress.take(addressKey(address)), 'login attempts');
    check(this.loginAccount.take(account), 'login attempts for this account');
  }

  loginFailed(account: string): void {
    this.loginFailures.record(account);
  }

  /** Before an account is created for a client address (checked early, taken at creation). */
  checkRegistration(address: string | undefined): void {
    check(this.registrations.retryAfterMs(addressKey(address)), 'registrations');
  }

  takeRegistration(address: string | undefined): void {
    check(this.registrations.take(addressKey(address)), 'registrations');
  }

  /** Before an event is sent by `userId`. */
  takeMessage(userId: string): void {
    check(this.messages.take(userId), 'messages');
  }
}

/** MQTT CONNECT: wrong credentials per client address and per username. */
export class ConnectRateLimits {
  private readonly byAddress: RateLimiter;
  private readonly byUsername: RateLimiter;

  constructor(config: HearthConfig['rateLimits']['rcMqttConnect'], now?: () => number) {
    const opts = now ? { now } : {};
    this.byAddress = new RateLimiter(config.failedAddress, opts);
    this.byUsername = new RateLimiter(config.failedUsername, opts);
  }

  /** 0 when a CONNECT may be checked now, else how long the address or username must wait. */
  retryAfterMs(address: string | undefined, username: string | undefined): number {
    const byAddress = this.byAddress.retryAfterMs(addressKey(address));
    const byUsername = username ? this.byUsername.retryAfterMs(username) : 0;
    return Math.max(byAddress, byUsername);
  }

  failed(address: string | undefined, username: string | undefined): void {
    this.byAddress.record(addressKey(address));
    if (username) this.byUsername.record(username);
  }
}
