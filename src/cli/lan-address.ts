/**
 * The address devices on the home network reach this machine at, for `hearth device add`: with the
 * broker on all interfaces, 127.0.0.1 (what the client API's default public URL names) reaches
 * nothing but the gateway itself. The first non-internal IPv4 address is the LAN one on a gateway
 * (IPv4 because microcontroller firmware often speaks nothing else); without one, the hostname
 * (mDNS/DHCP names it on many home networks).
 */
import { hostname, networkInterfaces, type NetworkInterfaceInfo } from 'node:os';

export function lanAddress(
  interfaces: NodeJS.Dict<NetworkInterfaceInfo[]> = networkInterfaces(),
  machineName: string = hostname(),
): string {
  for (const addresses of Object.values(interfaces)) {
    const lan = addresses?.find((a) => a.family === 'IPv4' && !a.internal);
    if (lan) return lan.address;
  }
  return machineName;
}

/** Addresses that name no reachable host for another machine: loopback and the wildcards. */
export function isLocalOnly(host: string): boolean {
  return host === 'localhost' || host === '0.0.0.0' || host === '::' || host === '[::]' || host === '::1' || host === '[::1]' || host.startsWith('127.');
}
