/**
 * Who may read `/metrics`: client addresses in the configured ranges (`metrics.allow`), loopback by
 * default. The numbers describe the home (how many devices, which servers we federate with, when
 * someone is using a client), so a gateway that exposes its client port to the LAN or to the
 * internet still answers them only to the machine itself unless told otherwise.
 *
 * Kept free of prom-client: the configuration validates ranges with it at start.
 */
import { BlockList, isIP } from 'node:net';

/** IPv4 and IPv6 loopback: the default allow list. */
export const LOOPBACK_RANGES: readonly string[] = ['127.0.0.0/8', '::1/128'];

/** Ranges as `address/prefix` or single addresses; a malformed one throws naming `setting`. */
export function parseAddressRanges(ranges: readonly string[], setting: string): BlockList {
  const list = new BlockList();
  for (const range of ranges) {
    const [address = '', prefixText, ...extra] = range.trim().split('/');
    const version = isIP(address);
    if (version === 0 || extra.length > 0) throw new Error(`${setting}: "${range}" is not an IP address or range (CIDR)`);
    const type = version === 6 ? 'ipv6' : 'ipv4';
    if (prefixText === undefined) {
      list.addAddress(address, type);
      continue;
    }
    const prefix = Number(prefixText);
    if (prefixText === '' || !Number.isInteger(prefix) || prefix < 0 || prefix > (version === 6 ? 128 : 32)) {
      throw new Error(`${setting}: "${range}" has a bad prefix length`);
    }
    list.addSubnet(address, prefix, type);
  }
  return list;
}

export class MetricsAccess {
  private readonly allowed: BlockList;

  constructor(ranges: readonly string[]) {
    this.allowed = parseAddressRanges(ranges, 'metrics.allow');
  }

  /** Whether a request from this peer address may read the metrics (no address: refused). */
  allows(address: string | undefined): boolean {
    if (address === undefined) return false;
    const version = isIP(address);
    if (version === 0) return false;
    // A dual-stack listener reports IPv4 peers as `::ffff:a.b.c.d`: judge the IPv4 address it carries.
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
    if (mapped) return this.allowed.check(mapped[1]!, 'ipv4');
    return this.allowed.check(address, version === 6 ? 'ipv6' : 'ipv4');
  }
}
