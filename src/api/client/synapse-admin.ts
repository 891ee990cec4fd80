/**
 * Synapse-compatible shared-secret registration: GET/POST /_synapse/admin/v1/register, so that
 * Synapse's `register_new_matrix_user` and similar provisioning scripts work against Hearth.
 */
import type { FastifyInstance } from 'fastify';
import type { AccountService } from '../../accounts/accounts.js';
import type { SharedSecretRegistration } from '../../accounts/shared-secret.js';
import { ErrCode, MatrixError, forbidden } from '../../core/errors.js';

export interface SynapseAdminDeps {
  accounts: Pick<AccountService, 'createUser' | 'createDeviceAndToken' | 'serverName'>;
  sharedSecret: SharedSecretRegistration;
}

interface SharedSecretBody {
  nonce: string;
  username: string;
  password: string;
  admin?: boolean;
  displayname?: string;
  user_type?: string;
  mac: string;
}

export function registerSynapseAdminRoutes(app: FastifyInstance, deps: SynapseAdminDeps): void {
  const requireEnabled = () => {
    if (!deps.sharedSecret.enabled) throw new MatrixError(400, ErrCode.UNKNOWN, 'Shared secret registration is not enabled');
  };

  /** GET /_synapse/admin/v1/register: a fresh nonce. */
  app.get('/_synapse/admin/v1/register', async () => {
    requireEnabled();
    return { nonce: deps.sharedSecret.issueNonce() };
  });

  /**
   * POST /_synapse/admin/v1/register
   * 1. The nonce must be one we issued, unused and fresh; the MAC must match.
   * 2. Create the account (admin as asked) and log it in with a new device.
   */
  app.post<{ Body: SharedSecretBody }>(
    '/_synapse/admin/v1/register',
    {
      schema: {
        body: {
          type: 'object',
          required: ['nonce', 'username', 'password', 'mac'],
          properties: {
            nonce: { type: 'string' },
            username: { type: 'string' },
            password: { type: 'string', maxLength: 512 },
            admin: { type: 'boolean' },
            displayname: { type: 'string', maxLength: 256 },
            user_type: { type: 'string' },
            mac: { type: 'string' },
          },
        },
      },
    },
    async (req) => {
      requireEnabled();
      const body = req.body;
      const admin = body.admin ?? false;
      // 1.
      const result = deps.sharedSecret.check({
        nonce: body.nonce,
        username: body.username,
        password: body.password,
        admin,
        ...(body.user_type !== undefined ? { userType: body.user_type } : {}),
        mac: body.mac,
      });
      if (result === 'unknown_nonce') throw new MatrixError(400, ErrCode.UNKNOWN, 'Unrecognised nonce');
      if (result === 'bad_mac') throw forbidden('HMAC incorrect');
      // 2.
      const user = await deps.accounts.createUser(body.username, {
        password: body.password,
        admin,
        ...(body.displayname !== undefined ? { displayname: body.displayname } : {}),
      });
      const session = await deps.accounts.createDeviceAndToken(user.userId);
      return { user_id: user.userId, access_token: session.accessToken, device_id: session.deviceId, home_server: deps.accounts.serverName };
    },
  );
}
