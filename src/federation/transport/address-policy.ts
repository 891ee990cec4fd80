/**
 * Which addresses the federation client may connect to. A stranger chooses the server names we
 * contact (a key query, an invite, a notary request), and a name can resolve to anything: without a
 * policy any Matrix server could make the gateway probe its home network (the router's admin page,
 * cameras, the MQTT broker). As Synapse does (`ip_range_blacklist`/`ip_range_whitelist`), private,
 * loopback, link-local and reserved ranges are refused unless allowed in
 * `federation.ip_range_allowlist` (a LAN peer, a loopback test setup).
 */
import { BlockList, isIP } from 'node:net';
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';

/** Synapse's default blocklist (synapse/config/server.py DEFAULT_IP_RANGE_BLOCKLIST), plus 0.0.0.0/8. */
export const DEFAULT_IP_RANGE_BLOCKLIST: readonly string[] = [
  '0.0.0.0/8',
  '127.0.0.0/8',
  '10.0.0.0/8',
  '172.16.0.0/12',
  '192.168.0.0/16',
  '100.64.0.0/10',
  '192.0.0.0/24',
  '169.254.0.0/16',
  '192.88.99.0/24',
  '198.18.0.0/15',
  '192.0.2.0/24',
  '198.51.100.0/24',
  '203.0.113.0/24',
  '224.0.0.0/4',
  '::1/128',
  '::/128',
  'fe80::/10',
  'fc00::/7',
  '2001:db8::/32',
  'ff00::/8',
  'fec0::/10',
];

export class AddressPolicy {
  private readonly blocked = new BlockList();
  private readonly allowed = new BlockList();

  /** Ranges as `address/prefix` or single addresses; a malformed one throws (a configuration error). */
  constructor(blocklist: readonly string[], allowlist: readonly string[]) {
    for (const range of blocklist) addRange(this.blocked, range, 'federation.ip_range_blocklist');
    for (const range of allowlist) addRange(this.allowed, range, 'federation.ip_range_allowlist');
  }

  /** Whether the client may connect to this IP address. */
  allows(address: string): boolean {
    const type = isIP(address) === 6 ? 'ipv6' : 'ipv4';
    if (this.allowed.check(address, type)) return true;
    if (this.blocked.check(address, type)) return false;
    // An IPv4-mapped IPv6 address is judged as the IPv4 address it carries (node's BlockList would
    // also match IPv4 addresses against a `::ffff:0:0/96` rule, so the mapping is handled here).
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
    return mapped ? this.allows(mapped[1]!) : true;
  }

  /**
   * A `lookup` for node:net/https: resolves as the system does, keeps only allowed addresses, and
   * fails like a DNS miss when none is left. Serves both the single-address and `all` forms.
   */
  readonly lookup = (hostname: string, options: { all?: boolean; family?: number } | number, callback: (...args: unknown[]) => void): void => {
    const opts = typeof options === 'number' ? { family: options } : options;
    dnsLookup(hostname, { all: true, ...(opts.family ? { family: opts.family } : {}) }, (err, addresses: LookupAddress[]) => {
      if (err) return callback(err);
      const permitted = addresses.filter((a) => this.allows(a.address));
      if (permitted.length === 0) {
        const refused = Object.assign(new Error(`${hostname} resolves only to addresses federation may not reach (federation.ip_range_allowlist)`), { code: 'EADDRNOTALLOWED' });
        return callback(refused);
      }
      if (opts.all) return callback(null, permitted);
      return callback(null, permitted[0]!.address, permitted[0]!.family);
    });
  };
}

function addRange(list: BlockList, range: string, setting: string): void {
  const [address, prefixText] = range.split('/');
  const version = isIP(address ?? '');
  if (version === 0) throw new Error(`${setting}: "${range}" is not an IP address or range`);
  const type = version === 6 ? 'ipv6' : 'ipv4';
  if (prefixText === undefined) {
    list.addAddress(address!, type);
    return;
  }
  const prefix = Number(prefixText);
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > (version === 6 ? 128 : 32)) throw new Error(`${setting}: "${range}" has a bad prefix length`);
  list.addSubnet(address!, prefix, type);
}
