/**
 * Server access control lists (client-server "Server Access Control Lists (ACLs) for rooms";
 * server-server "Server Access Control Lists (ACLs)"): `m.room.server_acl` names, by glob, the
 * servers that may take part in a room. Pure.
 */
import { parseServerName } from '../../core/identifiers.js';
import { isJsonObject } from '../../core/json-object.js';
import type { JsonObject } from '../../core/types.js';

/** Compiles a glob where `*` matches any run of characters and `?` one character; case-insensitive. */
function globToRegExp(glob: string): RegExp {
  const escaped = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${escaped}$`, 'i');
}

function globs(value: unknown): RegExp[] {
  return Array.isArray(value) ? value.filter((g): g is string => typeof g === 'string').slice(0, 1000).map(globToRegExp) : [];
}

/**
 * Whether `serverName` may take part in a room with this ACL content. The port is ignored; IP
 * literals are refused unless `allow_ip_literals` is true (the default); then deny wins over allow,
 * and a server must match some allow entry.
 */
export function isServerAllowedByAcl(serverName: string, acl: JsonObject): boolean {
  if (!isJsonObject(acl)) return true;
  const parsed = parseServerName(serverName);
  const host = parsed ? parsed.host.replace(/^\[|\]$/g, '') : serverName;
  if (acl.allow_ip_literals === false && parsed && parsed.kind !== 'dns') return false;
  if (globs(acl.deny).some((re) => re.test(host))) return false;
  return globs(acl.allow).some((re) => re.test(host));
}
