/**
 * Federation reachability (`hearth doctor`, with the gateway running):
 * - from outside: the server name is resolved as other servers resolve it (server-server "Resolving
 *   server names": .well-known, SRV, DNS; federation/transport/resolver.ts), and what it resolves to
 *   must answer `/_matrix/federation/v1/version` as Hearth and `/_matrix/key/v2/server` with our
 *   server name and signing key: the request goes to the public address, so it passes the router's
 *   port forwarding as other servers' requests do (without hairpin NAT on the router it cannot, and
 *   the finding says that this may be why). Addresses other servers refuse to contact (private,
 *   loopback: address-policy.ts) are a warning unless `federation.ip_range_allowlist` admits them
 *   (a LAN or loopback test setup);
 * - each peer: the running gateway's outgoing queues (reachable while its last send succeeded).
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { AddressPolicy, DEFAULT_IP_RANGE_BLOCKLIST } from '../../federation/transport/address-policy.js';
import { systemResolverPorts } from '../../federation/transport/client.js';
import { ServerResolver, type ResolvedServer } from '../../federation/transport/resolver.js';
import { get } from './ports.js';
import type { Check, Finding } from './findings.js';

export const checkFederation: Check = async ({ config, running }) => {
  if (!running) {
    return [{ check: 'federation', level: 'info', message: 'the gateway is stopped: whether other servers reach it, and it them, is checked while it runs', fix: 'start the gateway and run doctor again' }];
  }
  const findings: Finding[] = [await checkOwnReachability(running.serverName, config.federation)];
  const unreachable = running.peers.filter((p) => !p.reachable);
  const reachable = running.peers.filter((p) => p.reachable);
  if (reachable.length > 0) {
    const names = reachable.map((p) => p.server);
    findings.push({ check: 'peers', level: 'ok', message: `reachable: ${names.slice(0, 5).join(', ')}${names.length > 5 ? ` and ${names.length - 5} more` : ''}` });
  }
  for (const p of unreachable) {
    findings.push({
      check: 'peers',
      level: 'warning',
      message: `${p.server} is unreachable: ${p.failures} failed sends${p.retryPending ? ', retry pending' : ''}; ${p.queueDepth} items waiting, ${p.streamLag} stream positions behind`,
      fix: 'nothing is lost: it catches up once reachable. If every peer fails, check the uplink and DNS; if one, that server (hearth federation status shows more)',
    });
  }
  if (running.peers.length === 0) findings.push({ check: 'peers', level: 'ok', message: 'no peer servers (no rooms shared with other servers)' });
  return findings;
};

async function checkOwnReachability(serverName: string, fed: { tls: boolean; verifyTls: boolean; ipRangeBlocklist: string[]; ipRangeAllowlist: string[] }): Promise<Finding> {
  const check = 'reachability';
  let resolved: ResolvedServer;
  try {
    resolved = await new ServerResolver(systemResolverPorts({ verifyTls: fed.verifyTls })).resolve(serverName);
  } catch (err) {
    return { check, level: 'error', message: `${serverName} does not resolve as other servers resolve it: ${(err as Error).message}`, fix: 'publish a DNS record for the server name (or an SRV record, or /.well-known/matrix/server on its host delegating to this gateway)' };
  }
  let addresses: string[];
  try {
    addresses = isIP(resolved.connectHost) ? [resolved.connectHost] : (await lookup(resolved.connectHost, { all: true })).map((a) => a.address);
  } catch (err) {
    return { check, level: 'error', message: `${serverName} resolves to ${resolved.connectHost}, which has no address: ${(err as Error).message}`, fix: `publish an A/AAAA record for ${resolved.connectHost}` };
  }
  const policy = new AddressPolicy([...DEFAULT_IP_RANGE_BLOCKLIST, ...fed.ipRangeBlocklist], fed.ipRangeAllowlist);
  const publicOnes = addresses.filter((a) => new AddressPolicy(DEFAULT_IP_RANGE_BLOCKLIST, []).allows(a));
  const target = `${resolved.connectHost}:${resolved.port}`;
  const errors: string[] = [];
  for (const address of addresses) {
    try {
      const version = await get(true, address, resolved.port, '/_matrix/federation/v1/version', fed.verifyTls, { servername: resolved.tlsServerName, hostHeader: resolved.hostHeader });
      const name = (version.body as { server?: { name?: unknown } } | undefined)?.server?.name;
      if (version.status !== 200 || name !== 'Hearth') {
        errors.push(`${address} answered /version with ${version.status}${typeof name === 'string' ? ` as ${name}` : ''}`);
        continue;
      }
      const keys = await get(true, address, resolved.port, '/_matrix/key/v2/server', fed.verifyTls, { servername: resolved.tlsServerName, hostHeader: resolved.hostHeader });
      const keyServer = (keys.body as { server_name?: unknown } | undefined)?.server_name;
      if (keyServer !== serverName) {
        errors.push(`${address} is a Hearth for ${typeof keyServer === 'string' ? keyServer : 'another server'}, not ${serverName}`);
        continue;
      }
      if (publicOnes.length === 0 && !addresses.every((a) => policy.allows(a))) {
        return {
          check,
          level: 'warning',
          message: `${serverName} resolves to ${target} (${addresses.join(', ')}): private or loopback addresses, which other servers refuse to contact`,
          fix: 'for federation beyond this network, point the server name\'s DNS (or .well-known/matrix/server) at the public address and forward the port to the gateway',
        };
      }
      const note = publicOnes.length === 0 ? ' (allowed by federation.ip_range_allowlist: a LAN or test setup)' : '';
      return { check, level: 'ok', message: `${serverName} resolves to ${target}; ${address} answers /_matrix/federation/v1/version as this server${note}` };
    } catch (err) {
      errors.push(`${address}: ${(err as Error).message}`);
    }
  }
  return {
    check,
    level: 'error',
    message: `${serverName} resolves to ${target}, but it does not answer as this server: ${errors.join('; ')}`,
    fix: `forward port ${resolved.port} on the router to the gateway's federation port${fed.tls ? '' : ' (through the TLS reverse proxy)'}; check the certificate (federation.verify_tls checks it as other servers will). A router without hairpin NAT fails this check from inside: try from outside`,
  };
}
