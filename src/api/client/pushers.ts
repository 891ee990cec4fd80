/** Pushers (client-server "Push Notifications", "Client behaviour"): GET /pushers, POST /pushers/set. */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { JsonObject } from '../../core/types.js';
import { isJsonObject } from '../../core/json-object.js';
import { ErrCode, MatrixError, badJson } from '../../core/errors.js';
import type { PusherRecord, PusherRequest, PusherService } from '../../push/pushers.js';

export interface PushersDeps {
  requireUser(req: FastifyRequest): Promise<{ userId: string; deviceId: string }>;
  pushers: Pick<PusherService, 'list' | 'set'>;
}

/** pushers.yaml: "Max length, 512 bytes" and "Max length, 64 chars". */
const MAX_PUSHKEY_BYTES = 512;
const MAX_APP_ID_CHARS = 64;
/** pushers.yaml `data.url`: "MUST be an HTTPS URL with a path of /_matrix/push/v1/notify" (plain HTTP is let through for gateways on the LAN). */
const NOTIFY_PATH = '/_matrix/push/v1/notify';

function pusherJson(p: PusherRecord): JsonObject {
  return {
    pushkey: p.pushkey,
    kind: p.kind,
    app_id: p.appId,
    app_display_name: p.appDisplayName,
    device_display_name: p.deviceDisplayName,
    ...(p.profileTag !== undefined ? { profile_tag: p.profileTag } : {}),
    lang: p.lang,
    data: p.data,
  };
}

export function registerPushersRoutes(app: FastifyInstance, deps: PushersDeps): void {
  /** GET /_matrix/client/v3/pushers */
  app.get('/_matrix/client/v3/pushers', async (req) => {
    const user = await deps.requireUser(req);
    return { pushers: deps.pushers.list(user.userId).map(pusherJson) };
  });

  /** POST /_matrix/client/v3/pushers/set */
  app.post('/_matrix/client/v3/pushers/set', async (req) => {
    const user = await deps.requireUser(req);
    await deps.pushers.set(user.userId, user.deviceId, parsePusherRequest(req.body));
    return {};
  });
}

/** Validates a POST /pushers/set body (pushers.yaml), with the spec's M_MISSING_PARAM listing. */
export function parsePusherRequest(body: unknown): PusherRequest {
  if (!isJsonObject(body)) throw badJson('Body must be a JSON object');
  const missing = ['kind', 'app_id', 'pushkey'].filter((k) => !(k in body));
  if (missing.length > 0) throw new MatrixError(400, ErrCode.MISSING_PARAM, `Missing parameters: ${missing.join(', ')}`);
  const { kind, app_id: appId, pushkey } = body;
  if (typeof appId !== 'string' || appId.length === 0 || appId.length > MAX_APP_ID_CHARS) {
    throw new MatrixError(400, ErrCode.INVALID_PARAM, `app_id must be a string of 1 to ${MAX_APP_ID_CHARS} characters`);
  }
  if (typeof pushkey !== 'string' || pushkey.length === 0 || Buffer.byteLength(pushkey) > MAX_PUSHKEY_BYTES) {
    throw new MatrixError(400, ErrCode.INVALID_PARAM, `pushkey must be a string of 1 to ${MAX_PUSHKEY_BYTES} bytes`);
  }
  if (kind === null) return { appId, pushkey, kind: null };
  if (kind !== 'http') throw new MatrixError(400, ErrCode.INVALID_PARAM, 'Only kind "http" is supported: this server sends no email');

  const required = ['app_display_name', 'device_display_name', 'lang', 'data'].filter((k) => body[k] === undefined);
  if (required.length > 0) throw new MatrixError(400, ErrCode.MISSING_PARAM, `Missing parameters: ${required.join(', ')}`);
  const strings = ['app_display_name', 'device_display_name', 'lang', 'profile_tag'] as const;
  for (const k of strings) {
    if (body[k] !== undefined && typeof body[k] !== 'string') throw badJson(`${k} must be a string`);
  }
  const data = body.data;
  if (!isJsonObject(data)) throw badJson('data must be an object');
  if (typeof data.url !== 'string') throw new MatrixError(400, ErrCode.MISSING_PARAM, 'data.url is required for an http pusher');
  let url: URL;
  try {
    url = new URL(data.url);
  } catch {
    throw new MatrixError(400, ErrCode.INVALID_PARAM, 'data.url is not a URL');
  }
  if ((url.protocol !== 'https:' && url.protocol !== 'http:') || url.pathname !== NOTIFY_PATH) {
    throw new MatrixError(400, ErrCode.INVALID_PARAM, `data.url must be an http(s) URL with the path ${NOTIFY_PATH}`);
  }
  if (data.format !== undefined && typeof data.format !== 'string') throw badJson('data.format must be a string');
  if (body.append !== undefined && typeof body.append !== 'boolean') throw badJson('append must be a boolean');
  return {
    appId,
    pushkey,
    kind,
    appDisplayName: body.app_display_name as string,
    deviceDisplayName: body.device_display_name as string,
    ...(typeof body.profile_tag === 'string' ? { profileTag: body.profile_tag } : {}),
    lang: body.lang as string,
    data,
    append: body.append === true,
  };
}
