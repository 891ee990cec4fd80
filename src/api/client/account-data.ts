/** Client config (modules/account_data.md): global and per-room account data of the requester. */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AccountDataService } from '../../accounts/account-data.js';
import { SERVER_MANAGED_ACCOUNT_DATA } from '../../accounts/account-data.js';
import type { Requester } from '../../accounts/accounts.js';
import type { JsonObject } from '../../core/types.js';
import type { Authenticator } from '../../http/auth.js';
import { ErrCode, MatrixError, forbidden, notFound } from '../../core/errors.js';

export interface AccountDataDeps {
  auth: Authenticator;
  accountData: Pick<AccountDataService, 'get' | 'put'>;
}

const objectBody = { body: { type: 'object' } } as const;

type Params = { userId: string; type: string; roomId?: string };

export function registerAccountDataRoutes(app: FastifyInstance, deps: AccountDataDeps): void {
  /** Account data is private: only its owner may read or write it (403 otherwise). */
  const owner = async (req: FastifyRequest<{ Params: Params }>): Promise<Requester> => {
    const requester = await deps.auth.requireUser(req);
    if (requester.userId !== req.params.userId) throw forbidden('Cannot access the account data of other users');
    return requester;
  };

  const read = async (req: FastifyRequest<{ Params: Params }>) => {
    await owner(req);
    const content = await deps.accountData.get(req.params.userId, req.params.roomId ?? '', req.params.type);
    if (content === undefined) throw notFound('Account data not found');
    return content;
  };

  const write = async (req: FastifyRequest<{ Params: Params; Body: JsonObject }>) => {
    await owner(req);
    if (SERVER_MANAGED_ACCOUNT_DATA.has(req.params.type)) {
      throw new MatrixError(405, ErrCode.BAD_JSON, `Cannot set ${req.params.type} through this API.`);
    }
    await deps.accountData.put(req.params.userId, req.params.roomId ?? '', req.params.type, req.body);
    return {};
  };

  /** GET /_matrix/client/v3/user/{userId}/account_data/{type} */
  app.get<{ Params: Params }>('/_matrix/client/v3/user/:userId/account_data/:type', read);
  /** PUT /_matrix/client/v3/user/{userId}/account_data/{type} */
  app.put<{ Params: Params; Body: JsonObject }>('/_matrix/client/v3/user/:userId/account_data/:type', { schema: objectBody }, write);
  /** GET /_matrix/client/v3/user/{userId}/rooms/{roomId}/account_data/{type} */
  app.get<{ Params: Params }>('/_matrix/client/v3/user/:userId/rooms/:roomId/account_data/:type', read);
  /** PUT /_matrix/client/v3/user/{userId}/rooms/{roomId}/account_data/{type} */
  app.put<{ Params: Params; Body: JsonObject }>(
    '/_matrix/client/v3/user/:userId/rooms/:roomId/account_data/:type',
    { schema: objectBody },
    write,
  );
}
