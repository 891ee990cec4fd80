/** Send-to-device messaging (modules/send_to_device.md). */
import type { FastifyInstance } from 'fastify';
import type { ToDeviceMessages, ToDeviceService } from '../../accounts/to-device.js';
import type { Authenticator } from '../../http/auth.js';

export interface ToDeviceDeps {
  auth: Authenticator;
  toDevice: Pick<ToDeviceService, 'send'>;
}

export function registerToDeviceRoutes(app: FastifyInstance, deps: ToDeviceDeps): void {
  /** PUT /_matrix/client/v3/sendToDevice/{eventType}/{txnId} */
  app.put<{ Params: { eventType: string; txnId: string }; Body: { messages: ToDeviceMessages } }>(
    '/_matrix/client/v3/sendToDevice/:eventType/:txnId',
    {
      schema: {
        body: {
          type: 'object',
          required: ['messages'],
          properties: {
            messages: { type: 'object', additionalProperties: { type: 'object', additionalProperties: { type: 'object' } } },
          },
        },
      },
    },
    async (req) => {
      const requester = await deps.auth.requireUser(req);
      await deps.toDevice.send(requester, req.params.eventType, req.params.txnId, req.body.messages);
      return {};
    },
  );
}
