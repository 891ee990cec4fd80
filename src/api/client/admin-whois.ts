/**
 * GET /admin/whois/{userId} (client-server "Server Administration"): a user's devices with what
 * the server last saw of each, for server admins and for the user themselves (the spec allows
 * that restriction; Synapse's WhoisRestServlet applies it).
 *
 * The answer follows the spec: one key per device, one session per device (a device holds one
 * access token), one connection: the address, time and user agent last seen. Synapse lists every
 * (address, user agent) pair it logged under a single device key "" instead; Hearth keeps no such
 * log (docs/errors.md "Where Hearth and Synapse differ, or the spec leaves the choice").
 */
import type { FastifyInstance } from 'fastify';
import type { AccountService, DeviceRecord } from '../../accounts/accounts.js';
import type { Authenticator } from '../../http/auth.js';
import { ErrCode, MatrixError, forbidden } from '../../core/errors.js';
import { serverNameOf } from '../../core/identifiers.js';

export interface WhoisDeps {
  auth: Authenticator;
  accounts: Pick<AccountService, 'listDevices' | 'serverName'>;
}

/** The spec's ConnectionInfo of a device: none until it made an authenticated request. */
function connectionsOf(device: DeviceRecord): Record<string, unknown>[] {
  if (device.lastSeenIp === undefined) return [];
  return [{ ip: device.lastSeenIp, last_seen: device.lastSeenTs ?? 0, user_agent: device.lastSeenUserAgent ?? '' }];
}

export function registerWhoisRoutes(app: FastifyInstance, deps: WhoisDeps): void {
  app.get<{ Params: { userId: string } }>('/_matrix/client/v3/admin/whois/:userId', async (req) => {
    const requester = await deps.auth.requireUser(req);
    const { userId } = req.params;
    // Permission before anything about the user: a non-admin learns nothing of other accounts.
    if (userId !== requester.userId && !requester.isAdmin) throw forbidden('You are not a server admin');
    // Synapse's answer (400, no errcode of its own): only local users have sessions here.
    if (serverNameOf(userId) !== deps.accounts.serverName) throw new MatrixError(400, ErrCode.UNKNOWN, 'Can only whois a local user');
    const devices: Record<string, unknown> = {};
    for (const device of await deps.accounts.listDevices(userId)) {
      devices[device.deviceId] = { sessions: [{ connections: connectionsOf(device) }] };
    }
    return { user_id: userId, devices };
  });
}
