/** Device management (client-server-api "Device Management"). */
import type { FastifyInstance } from 'fastify';
import { isJsonObject } from '../../core/json-object.js';
import type { AccountService, DeviceRecord } from '../../accounts/accounts.js';
import type { UserInteractiveAuth } from '../../accounts/uia.js';
import type { Authenticator } from '../../http/auth.js';
import { uiaOperation } from './uia-operation.js';
import { badJson, notFound } from '../../core/errors.js';

export interface DevicesDeps {
  auth: Authenticator;
  accounts: Pick<AccountService, 'listDevices' | 'getDevice' | 'updateDevice' | 'deleteDevices'>;
  uia: UserInteractiveAuth;
}

/** The `Device` object of the API. */
function deviceJson(d: DeviceRecord): Record<string, unknown> {
  return {
    device_id: d.deviceId,
    ...(d.displayName !== undefined ? { display_name: d.displayName } : {}),
    ...(d.lastSeenIp !== undefined ? { last_seen_ip: d.lastSeenIp } : {}),
    ...(d.lastSeenTs !== undefined ? { last_seen_ts: d.lastSeenTs } : {}),
  };
}

const deleteDevicesSchema = {
  type: 'object',
  required: ['devices'],
  properties: { devices: { type: 'array', items: { type: 'string' }, maxItems: 1000 }, auth: { type: 'object' } },
} as const;

export function registerDevicesRoutes(app: FastifyInstance, deps: DevicesDeps): void {
  /** GET /_matrix/client/v3/devices */
  app.get('/_matrix/client/v3/devices', async (req) => {
    const requester = await deps.auth.requireUser(req);
    return { devices: (await deps.accounts.listDevices(requester.userId)).map(deviceJson) };
  });

  /** GET /_matrix/client/v3/devices/{deviceId} */
  app.get<{ Params: { deviceId: string } }>('/_matrix/client/v3/devices/:deviceId', async (req) => {
    const requester = await deps.auth.requireUser(req);
    const device = await deps.accounts.getDevice(requester.userId, req.params.deviceId);
    if (!device) throw notFound('Unknown device');
    return deviceJson(device);
  });

  /** PUT /_matrix/client/v3/devices/{deviceId}: only `display_name` can change. */
  app.put<{ Params: { deviceId: string }; Body: { display_name?: string } }>(
    '/_matrix/client/v3/devices/:deviceId',
    { schema: { body: { type: 'object', properties: { display_name: { type: 'string', maxLength: 1000 } } } } },
    async (req) => {
      const requester = await deps.auth.requireUser(req);
      await deps.accounts.updateDevice(requester.userId, req.params.deviceId, req.body.display_name);
      return {};
    },
  );

  /** DELETE /_matrix/client/v3/devices/{deviceId}: UIA with the account password. */
  app.delete<{ Params: { deviceId: string }; Body: { auth?: unknown } | undefined }>(
    '/_matrix/client/v3/devices/:deviceId',
    async (req) => {
      const requester = await deps.auth.requireUser(req);
      const body = req.body ?? {};
      if (!isJsonObject(body)) throw badJson('Body must be a JSON object');
      if (!(await deps.accounts.getDevice(requester.userId, req.params.deviceId))) throw notFound('Unknown device');
      await deps.uia.authenticate(body.auth, {
        operation: uiaOperation(req),
        flows: [{ stages: ['m.login.password'] }],
        userId: requester.userId,
      });
      await deps.accounts.deleteDevices(requester.userId, [req.params.deviceId]);
      return {};
    },
  );

  /** POST /_matrix/client/v3/delete_devices: UIA with the account password. */
  app.post<{ Body: { devices: string[]; auth?: unknown } }>(
    '/_matrix/client/v3/delete_devices',
    { schema: { body: deleteDevicesSchema } },
    async (req) => {
      const requester = await deps.auth.requireUser(req);
      await deps.uia.authenticate(req.body.auth, {
        operation: uiaOperation(req),
        flows: [{ stages: ['m.login.password'] }],
        userId: requester.userId,
      });
      await deps.accounts.deleteDevices(requester.userId, req.body.devices);
      return {};
    },
  );
}
