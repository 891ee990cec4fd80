/**
 * When other servers' copies of our signing key expire (issue 12 "Behind NAT").
 *
 * A server verifies our requests and events with the key set it fetched from us (`GET
 * /_matrix/key/v2/server`), which it may use until the `valid_until_ts` we published in it: the
 * fetch plus `PUBLISHED_KEY_VALIDITY_MS` (7 days, the longest the spec lets anyone rely on it). A
 * gateway whose listener a peer cannot reach (behind NAT, or in pull mode) stays trusted by that
 * peer until then, and no longer: past it, the peer refuses our transactions until it can fetch
 * the keys again. So the operator is told, in the log a day before and in `hearth federation
 * status`.
 *
 * Key fetches are not authenticated (they are how authentication starts), so a fetcher is known by
 * its address only: a destination's copy is the newest fetch from any address its name resolves
 * to. A copy a peer got through a notary is not seen here, and a peer whose requests leave from
 * another address than the one it is reached at shows as unknown. The last fetch per address (at
 * most 256 addresses) is kept in `meta/key_fetches`, so a restart does not forget it.
 */
import type { Database } from '../../storage/db.js';

/** How many fetching addresses are remembered (the oldest fetch is forgotten first). */
const MAX_ADDRESSES = 256;
/** A fetch from an address already known is written at most this often (a peer may fetch often). */
const PERSIST_EVERY_MS = 60 * 60 * 1000;
const META_KEY = 'key_fetches';

export interface KeyCopy {
  /** When the peer last fetched our key set from us, as far as we saw. */
  fetchedAt: number;
  /** When that copy stops being valid for it. */
  expiresAt: number;
}

export interface KeyCopiesDeps {
  db: Pick<Database, 'getMeta' | 'write' | 'putMeta'>;
  validityMs: number;
  now?: () => number;
}

export class KeyCopies {
  /** address -> the last fetch from it (ms). */
  private readonly fetches = new Map<string, number>();
  /** address -> when its fetch was last written. */
  private readonly written = new Map<string, number>();
  private readonly now: () => number;

  constructor(private readonly deps: KeyCopiesDeps) {
    this.now = deps.now ?? Date.now;
  }

  async load(): Promise<void> {
    const stored = await this.deps.db.getMeta<Record<string, number>>(META_KEY);
    if (!stored || typeof stored !== 'object') return;
    for (const [address, at] of Object.entries(stored)) {
      if (typeof at === 'number' && Number.isFinite(at)) {
        this.fetches.set(address, at);
        this.written.set(address, at);
      }
    }
  }

  /** `address` fetched our key set just now. Resolves once it is written, when it needs writing. */
  async noteFetch(address: string): Promise<void> {
    const key = normalizeAddress(address);
    const now = this.now();
    this.fetches.delete(key); // re-inserted last: the Map's order is oldest fetch first
    this.fetches.set(key, now);
    while (this.fetches.size > MAX_ADDRESSES) {
      const oldest = this.fetches.keys().next().value as string;
      this.fetches.delete(oldest);
      this.written.delete(oldest);
    }
    if (now - (this.written.get(key) ?? -Infinity) < PERSIST_EVERY_MS) return;
    this.written.set(key, now);
    await this.deps.db.write([this.deps.db.putMeta(META_KEY, Object.fromEntries(this.fetches))]);
  }

  /** The newest copy fetched from any of `addresses`, or undefined when none of them fetched. */
  copyOf(addresses: readonly string[]): KeyCopy | undefined {
    let fetchedAt: number | undefined;
    for (const address of addresses) {
      const at = this.fetches.get(normalizeAddress(address));
      if (at !== undefined && (fetchedAt === undefined || at > fetchedAt)) fetchedAt = at;
    }
    return fetchedAt === undefined ? undefined : { fetchedAt, expiresAt: fetchedAt + this.deps.validityMs };
  }
}

/** An IPv4 address as Node reports it on a dual-stack socket (`::ffff:192.0.2.1`) is that IPv4 address. */
export function normalizeAddress(address: string): string {
  const lower = address.toLowerCase();
  return lower.startsWith('::ffff:') && lower.includes('.') ? lower.slice(7) : lower;
}

/** How long before a copy expires the log warns. */
export const WARN_BEFORE_MS = 24 * 3600 * 1000;
/** How often the copies of the servers we federate with are looked at. */
const CHECK_EVERY_MS = 3600 * 1000;

export interface KeyCopyStatus {
  destination: string;
  /** Absent: no fetch from its addresses seen (it may hold a copy from a notary, or fetch from elsewhere). */
  fetchedAt?: number;
  expiresAt?: number;
}

export interface KeyCopyWatchDeps {
  copies: KeyCopies;
  /** The servers we federate with now. */
  destinations(): string[];
  /** The addresses a server name resolves to (server-server "Resolving server names", then A/AAAA). */
  addressesOf(destination: string): Promise<string[]>;
  log: { warn(obj: object, msg: string): void };
  now?: () => number;
}

/**
 * Looks at every destination's copy of our key every hour and warns once per copy when it expires
 * within a day; `status()` is what `hearth federation status` shows.
 */
export class KeyCopyWatch {
  private timer: NodeJS.Timeout | undefined;
  /** destination -> what was already said about its copy: its expiry, and whether it had passed. */
  private readonly warned = new Map<string, string>();
  private readonly now: () => number;

  constructor(private readonly deps: KeyCopyWatchDeps) {
    this.now = deps.now ?? Date.now;
  }

  /** Checks soon after start (a gateway off for days may come back with little time left), then hourly. */
  start(): void {
    if (this.timer) return;
    const check = () => void this.check().catch(() => undefined);
    this.timer = setInterval(check, CHECK_EVERY_MS);
    this.timer.unref();
    setTimeout(check, 10_000).unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  async status(): Promise<KeyCopyStatus[]> {
    return Promise.all(
      this.deps.destinations().map(async (destination) => {
        const addresses = await this.deps.addressesOf(destination).catch(() => []);
        const copy = this.deps.copies.copyOf(addresses);
        return copy ? { destination, ...copy } : { destination };
      }),
    );
  }

  /** Warns about each copy that expires within WARN_BEFORE_MS, once, and once more when it has expired. */
  async check(): Promise<void> {
    const now = this.now();
    for (const s of await this.status()) {
      if (s.expiresAt === undefined || s.expiresAt - now > WARN_BEFORE_MS) continue;
      const said = `${s.expiresAt}${s.expiresAt > now ? '' : ' expired'}`;
      if (this.warned.get(s.destination) === said) continue;
      this.warned.set(s.destination, said);
      const when = new Date(s.expiresAt).toISOString();
      this.deps.log.warn(
        { destination: s.destination, fetchedAt: new Date(s.fetchedAt!).toISOString(), expiresAt: when },
        s.expiresAt > now
          ? `${s.destination}'s copy of our signing key expires at ${when}: unless it fetches it again from our federation listener before then, it will refuse our transactions`
          : `${s.destination}'s copy of our signing key expired at ${when}: it refuses our transactions until it can fetch it again from our federation listener`,
      );
    }
  }
}
