/**
 * Server-name resolution (server-server "Resolving server names"): where to connect for a server
 * name, which `Host` header to send, and which name its certificate must hold. DNS and the
 * `.well-known` fetch are injected (`ResolverPorts`), so the rules are tested without a network;
 * `systemResolverPorts` gives the real ones.
 *
 * Well-known answers are cached (24 h by default, the response's max-age up to 48 h; an invalid
 * answer 1 h; a failed fetch 2 min, since a gateway's uplink flaps), and so are whole resolutions,
 * in bounded LRU maps: a stranger naming many servers evicts, never grows, them.
 */
import { parseServerName, type ServerName } from '../../core/identifiers.js';
import { isJsonObject } from '../../core/json-object.js';
import { LruCache } from '../../storage/lru.js';

export const DEFAULT_FEDERATION_PORT = 8448;

export interface ResolvedServer {
  /** The server name as asked (the X-Matrix `destination`). */
  serverName: string;
  /** Where to connect: an IP address (IPv6 without brackets) or a hostname for A/AAAA lookup. */
  connectHost: string;
  port: number;
  /** The `Host` header of requests. */
  hostHeader: string;
  /**
   * The name the certificate must be valid for, also sent as SNI; undefined when the certificate
   * must hold the IP address `connectHost` (no SNI for IP addresses).
   */
  tlsServerName: string | undefined;
}

export interface SrvRecord {
  name: string;
  port: number;
  priority: number;
  weight: number;
}

export interface WellKnownAnswer {
  status: number;
  /** The parsed JSON body, undefined when it was not JSON. */
  body: unknown;
  /** `Cache-Control: max-age`, when the response gave one. */
  maxAgeSeconds?: number;
}

export interface ResolverPorts {
  /** SRV records for `name`; [] when there are none. */
  resolveSrv(name: string): Promise<SrvRecord[]>;
  /** `GET https://<hostname>/.well-known/matrix/server`, redirects followed; throws when unreachable. */
  fetchWellKnown(hostname: string): Promise<WellKnownAnswer>;
}

const DAY_MS = 24 * 3600 * 1000;
const WELL_KNOWN_DEFAULT_MS = DAY_MS;
const WELL_KNOWN_MAX_MS = 2 * DAY_MS;
const WELL_KNOWN_INVALID_MS = 3600 * 1000;
const WELL_KNOWN_UNREACHABLE_MS = 2 * 60 * 1000;
/** Resolutions (SRV answers included) are reused this long at most. */
const RESOLUTION_MAX_MS = 3600 * 1000;
const CACHE_ENTRIES = 1024;

interface Cached<T> {
  value: T;
  expiresAt: number;
}

export class ServerResolver {
  private readonly wellKnown = new LruCache<string, Cached<ServerName | undefined>>(CACHE_ENTRIES);
  private readonly resolutions = new LruCache<string, Cached<ResolvedServer>>(CACHE_ENTRIES);
  private readonly now: () => number;

  constructor(
    private readonly ports: ResolverPorts,
    opts: { now?: () => number } = {},
  ) {
    this.now = opts.now ?? Date.now;
  }

  /** Forgets a server's resolution (after a connection failure, say), keeping its well-known answer. */
  forget(serverName: string): void {
    this.resolutions.delete(serverName);
  }

  async resolve(serverName: string): Promise<ResolvedServer> {
    const cached = this.resolutions.get(serverName);
    if (cached && cached.expiresAt > this.now()) return cached.value;
    const { value, expiresAt } = await this.resolveUncached(serverName);
    this.resolutions.set(serverName, { value, expiresAt: Math.min(expiresAt, this.now() + RESOLUTION_MAX_MS) });
    return value;
  }

  private async resolveUncached(serverName: string): Promise<Cached<ResolvedServer>> {
    const parsed = parseServerName(serverName);
    if (!parsed) throw new Error(`${serverName} is not a server name`);
    const forever = Number.MAX_SAFE_INTEGER;
    // 1. An IP literal: that address, the given port or 8448; Host is the server name.
    if (parsed.kind !== 'dns') {
      return { value: { serverName, connectHost: bare(parsed.host), port: parsed.port ?? DEFAULT_FEDERATION_PORT, hostHeader: serverName, tlsServerName: undefined }, expiresAt: forever };
    }
    // 2. A hostname with an explicit port: A/AAAA of the hostname; Host is the server name.
    if (parsed.port !== undefined) {
      return { value: { serverName, connectHost: parsed.host, port: parsed.port, hostHeader: serverName, tlsServerName: parsed.host }, expiresAt: forever };
    }
    // 3. `.well-known/matrix/server` on the hostname.
    const { value: delegated, expiresAt } = await this.wellKnownOf(parsed.host);
    if (delegated) {
      // 3.1 A delegated IP literal: that address, its port or 8448; Host is the delegated name.
      if (delegated.kind !== 'dns') {
        const hostHeader = delegated.port === undefined ? delegated.host : `${delegated.host}:${delegated.port}`;
        return { value: { serverName, connectHost: bare(delegated.host), port: delegated.port ?? DEFAULT_FEDERATION_PORT, hostHeader, tlsServerName: undefined }, expiresAt };
      }
      // 3.2 A delegated hostname with a port.
      if (delegated.port !== undefined) {
        return { value: { serverName, connectHost: delegated.host, port: delegated.port, hostHeader: `${delegated.host}:${delegated.port}`, tlsServerName: delegated.host }, expiresAt };
      }
      // 3.3-3.5 SRV `_matrix-fed._tcp`, then the deprecated `_matrix._tcp`, then port 8448; the
      // certificate and Host are the delegated hostname's.
      return { value: await this.viaSrv(serverName, delegated.host), expiresAt };
    }
    // 4-6. No valid well-known: SRV on the hostname itself, then port 8448.
    return { value: await this.viaSrv(serverName, parsed.host), expiresAt };
  }

  private async viaSrv(serverName: string, hostname: string): Promise<ResolvedServer> {
    const target = (await this.srvTarget(`_matrix-fed._tcp.${hostname}`)) ?? (await this.srvTarget(`_matrix._tcp.${hostname}`));
    return {
      serverName,
      connectHost: target?.name ?? hostname,
      port: target?.port ?? DEFAULT_FEDERATION_PORT,
      hostHeader: hostname,
      tlsServerName: hostname,
    };
  }

  /** The preferred SRV target (lowest priority, then highest weight); none when absent or ".". */
  private async srvTarget(name: string): Promise<SrvRecord | undefined> {
    let records: SrvRecord[];
    try {
      records = await this.ports.resolveSrv(name);
    } catch {
      return undefined;
    }
    const usable = records.filter((r) => r.name !== '' && r.name !== '.' && r.port > 0 && r.port <= 65535);
    usable.sort((a, b) => a.priority - b.priority || b.weight - a.weight);
    const best = usable[0];
    return best && { ...best, name: best.name.replace(/\.$/, '') };
  }

  /** The delegated server name of a hostname's well-known, cached per the rules above. */
  private async wellKnownOf(hostname: string): Promise<Cached<ServerName | undefined>> {
    const now = this.now();
    const cached = this.wellKnown.get(hostname);
    if (cached && cached.expiresAt > now) return cached;
    let entry: Cached<ServerName | undefined>;
    try {
      const answer = await this.ports.fetchWellKnown(hostname);
      const delegated = answer.status === 200 ? delegatedName(answer.body) : undefined;
      const ttl = delegated === undefined
        ? WELL_KNOWN_INVALID_MS
        : answer.maxAgeSeconds === undefined
          ? WELL_KNOWN_DEFAULT_MS
          : Math.min(answer.maxAgeSeconds * 1000, WELL_KNOWN_MAX_MS);
      entry = { value: delegated, expiresAt: now + ttl };
    } catch {
      entry = { value: undefined, expiresAt: now + WELL_KNOWN_UNREACHABLE_MS };
    }
    this.wellKnown.set(hostname, entry);
    return entry;
  }
}

/** `m.server` of a well-known body, parsed as `<delegated_hostname>[:<delegated_port>]`. */
function delegatedName(body: unknown): ServerName | undefined {
  if (!isJsonObject(body) || typeof body['m.server'] !== 'string') return undefined;
  return parseServerName(body['m.server']);
}

/** An IPv6 literal without its brackets, for connecting. */
function bare(host: string): string {
  return host.startsWith('[') ? host.slice(1, -1) : host;
}
