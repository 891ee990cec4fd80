/**
 * Token buckets per key (an IP address, an account), as Synapse's `rc_*` settings define them: a
 * bucket holds at most `burstCount` actions and refills at `perSecond`; an action takes one, and
 * an empty bucket answers how long until the next one is there (`retry_after_ms` of 429
 * M_LIMIT_EXCEEDED, client-server-api "Rate limiting").
 *
 * Memory is bounded: at most `maxKeys` buckets, so a stranger naming endless accounts or addresses
 * cannot fill it. A bucket that has refilled to full says nothing a fresh one would not, so those
 * are forgotten first; only when every bucket in the scanned oldest part is still draining does
 * the least recently used one go (an attacker must then keep `maxKeys` buckets busy to make the
 * limiter forget one victim, and each of those keys costs them rate-limited requests).
 */

export interface RateLimit {
  /** Refill rate: actions per second. */
  perSecond: number;
  /** Bucket size: how many actions in a burst. */
  burstCount: number;
}

export interface RateLimiterOptions {
  /** Most keys remembered at once (default 10,000: ~1 MB). */
  maxKeys?: number;
  now?: () => number;
}

interface Bucket {
  /** Tokens left at `at` (fractional while refilling). */
  tokens: number;
  at: number;
}

const DEFAULT_MAX_KEYS = 10_000;
/** Oldest buckets looked at for a full one before the least recently used is evicted. */
const EVICTION_SCAN = 32;

export class RateLimiter {
  /** Insertion order is recency order (a touched key is re-inserted): the first key is the oldest. */
  private readonly buckets = new Map<string, Bucket>();
  private readonly maxKeys: number;
  private readonly now: () => number;

  constructor(
    readonly limit: RateLimit,
    opts: RateLimiterOptions = {},
  ) {
    if (!(limit.perSecond >= 0) || !(limit.burstCount >= 0)) throw new Error('rate limits must be non-negative numbers');
    this.maxKeys = opts.maxKeys ?? DEFAULT_MAX_KEYS;
    this.now = opts.now ?? Date.now;
  }

  /**
   * How long until `cost` actions are allowed for `key`, without taking them: 0 when allowed now.
   * Used before expensive work whose outcome decides whether it counts (failed logins).
   */
  retryAfterMs(key: string, cost = 1): number {
    const bucket = this.buckets.get(key);
    const tokens = bucket ? this.refilled(bucket, this.now()) : this.limit.burstCount;
    return this.waitFor(tokens, cost);
  }

  /** Takes `cost` actions for `key` if allowed (returns 0), else takes nothing and returns the wait in ms. */
  take(key: string, cost = 1): number {
    const now = this.now();
    const bucket = this.buckets.get(key);
    const tokens = bucket ? this.refilled(bucket, now) : this.limit.burstCount;
    const wait = this.waitFor(tokens, cost);
    if (wait > 0) return wait;
    this.store(key, { tokens: tokens - cost, at: now });
    return 0;
  }

  /** Takes `cost` actions whatever is left (the bucket may go below empty): a failure already happened. */
  record(key: string, cost = 1): void {
    const now = this.now();
    const bucket = this.buckets.get(key);
    const tokens = bucket ? this.refilled(bucket, now) : this.limit.burstCount;
    this.store(key, { tokens: Math.max(tokens - cost, -this.limit.burstCount), at: now });
  }

  /** Forgets a key (e.g. its failures after a successful login). */
  reset(key: string): void {
    this.buckets.delete(key);
  }

  get size(): number {
    return this.buckets.size;
  }

  private refilled(bucket: Bucket, now: number): number {
    const elapsedSeconds = Math.max(0, now - bucket.at) / 1000;
    return Math.min(this.limit.burstCount, bucket.tokens + elapsedSeconds * this.limit.perSecond);
  }

  private waitFor(tokens: number, cost: number): number {
    if (tokens >= cost) return 0;
    // A cost beyond the bucket can never be met; so can nothing with no refill: wait "forever" (a day).
    if (cost > this.limit.burstCount || this.limit.perSecond === 0) return 86_400_000;
    return Math.ceil(((cost - tokens) / this.limit.perSecond) * 1000);
  }

  private store(key: string, bucket: Bucket): void {
    this.buckets.delete(key);
    if (this.buckets.size >= this.maxKeys) this.evictOne();
    this.buckets.set(key, bucket);
  }

  private evictOne(): void {
    const now = this.now();
    let scanned = 0;
    for (const [key, bucket] of this.buckets) {
      if (this.refilled(bucket, now) >= this.limit.burstCount) {
        this.buckets.delete(key);
        return;
      }
      if (++scanned >= EVICTION_SCAN) break;
    }
    const oldest = this.buckets.keys().next();
    if (!oldest.done) this.buckets.delete(oldest.value);
  }
}

/**
 * The rate-limit key of a client address. IPv6 clients usually hold a whole /64 (SLAAC, privacy
 * addresses), so they are limited per /64 rather than per address; IPv4-mapped IPv6 addresses
 * (`::ffff:192.0.2.1`, what a dual-stack socket reports) are their IPv4 address.
 */
export function addressKey(address: string | undefined): string {
  if (address === undefined || address === '') return 'unknown';
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1]!;
  if (!address.includes(':')) return address;
  const groups = expandIpv6(address.split('%')[0]!);
  return groups ? `${groups.slice(0, 4).join(':')}::/64` : address;
}

/** The eight 16-bit groups of an IPv6 address (lowercase, no leading zeros), or undefined. */
function expandIpv6(address: string): string[] | undefined {
  const halves = address.toLowerCase().split('::');
  if (halves.length > 2) return undefined;
  const head = halves[0] ? halves[0].split(':') : [];
  const tail = halves.length === 2 && halves[1] ? halves[1].split(':') : [];
  // An embedded IPv4 tail counts as two groups.
  const last = tail.length > 0 ? tail : head;
  if (last.length > 0 && last[last.length - 1]!.includes('.')) {
    const v4 = last.pop()!.split('.').map(Number);
    if (v4.length !== 4 || v4.some((n) => !(n >= 0 && n <= 255))) return undefined;
    last.push(((v4[0]! << 8) | v4[1]!).toString(16), ((v4[2]! << 8) | v4[3]!).toString(16));
  }
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  const groups = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...tail];
  if (groups.some((g) => !/^[0-9a-f]{1,4}$/.test(g))) return undefined;
  return groups.map((g) => parseInt(g, 16).toString(16));
}
