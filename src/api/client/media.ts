/**
 * The content repository (client-server "Content repository"): uploads, downloads and the upload
 * limit. Authenticated media (v1.11, `/_matrix/client/v1/media/...`) is what current clients use;
 * the older unauthenticated `/_matrix/media/{v3,r0}/...` paths are still served for local media,
 * since clients such as matrix-nio use them.
 *
 * Other servers' media is fetched once over federation (media/remote-media.ts) on the
 * authenticated paths; the legacy paths serve local media only. Thumbnails are made by
 * media/thumbnailer.ts (the sizes Synapse makes, kept on disk); an image smaller than every
 * thumbnail is its own.
 */
import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Requester } from '../../accounts/accounts.js';
import { ErrCode, MatrixError, notFound } from '../../core/errors.js';
import type { MediaRecord, MediaStore } from '../../media/store.js';
import type { RemoteMediaCache } from '../../media/remote-media.js';
import type { ThumbnailFile, Thumbnailer } from '../../media/thumbnailer.js';
import { parseThumbnailRequest } from '../../media/thumbnail-request.js';

export interface MediaRouteDeps {
  requireUser(req: FastifyRequest): Promise<Requester>;
  media: MediaStore;
  thumbnails: Thumbnailer;
  /** Other servers' media, fetched once over federation; absent: remote mxc URIs are 404. */
  remote?: RemoteMediaCache;
  serverName: string;
  maxUploadBytes: number;
}

/**
 * Types a browser may show in place (client-server "Content repository", Content-Disposition: the
 * spec's list of types served `inline`); everything else is an attachment, so an uploaded HTML or
 * SVG file cannot run script in the origin of the homeserver.
 */
const INLINE_TYPES = new Set([
  'text/css', 'text/plain', 'text/csv', 'application/json', 'application/ld+json',
  'image/jpeg', 'image/gif', 'image/png', 'image/apng', 'image/webp', 'image/avif',
  'video/mp4', 'video/webm', 'video/ogg', 'video/quicktime',
  'audio/mp4', 'audio/webm', 'audio/aac', 'audio/mpeg', 'audio/ogg', 'audio/wave', 'audio/wav', 'audio/x-wav', 'audio/x-pn-wav', 'audio/flac', 'audio/x-flac',
]);

const MAX_CONTENT_TYPE_LENGTH = 255;
const MAX_FILE_NAME_LENGTH = 255;
const DEFAULT_CONTENT_TYPE = 'application/octet-stream';

type MediaParams = { serverName: string; mediaId: string; fileName?: string };

export function registerMediaRoutes(app: FastifyInstance, deps: MediaRouteDeps): void {
  const config = async (req: FastifyRequest) => {
    await deps.requireUser(req);
    return { 'm.upload.size': deps.maxUploadBytes };
  };
  app.get('/_matrix/client/v1/media/config', config);
  for (const version of ['v3', 'r0']) app.get(`/_matrix/media/${version}/config`, config);

  /** The local record of `serverName/mediaId` (other servers' media fetched first, on the authenticated paths). */
  const lookUp = async (params: MediaParams, authenticated: boolean): Promise<{ mediaId: string; record: MediaRecord }> => {
    const { serverName } = params;
    let { mediaId } = params;
    // Remote media only on the authenticated paths (client-server v1.11 froze the legacy ones).
    if (serverName !== deps.serverName && deps.remote && authenticated) mediaId = await deps.remote.localCopy(serverName, mediaId);
    const record = serverName === deps.serverName || (deps.remote && authenticated) ? await deps.media.get(mediaId) : undefined;
    if (!record) throw notFound('Media not found');
    return { mediaId, record };
  };

  // Downloads. The authenticated paths want an access token; the legacy ones serve local media to anyone.
  const download = (authenticated: boolean) => async (req: FastifyRequest<{ Params: MediaParams }>, reply: FastifyReply) => {
    if (authenticated) await deps.requireUser(req);
    const { mediaId, record } = await lookUp(req.params, authenticated);
    const file = deps.media.openFile(mediaId);
    if (!file) throw notFound('Media not found');
    setMediaHeaders(reply, record, req.params.fileName, authenticated);
    return reply.send(file);
  };

  // Thumbnails (client-server "Thumbnails"): the query is checked before the media is looked up, as Synapse does.
  const thumbnail = (authenticated: boolean) => async (req: FastifyRequest<{ Params: MediaParams; Querystring: Record<string, unknown> }>, reply: FastifyReply) => {
    if (authenticated) await deps.requireUser(req);
    const request = parseThumbnailRequest(req.query);
    const { mediaId, record } = await lookUp(req.params, authenticated);
    const file = await deps.thumbnails.thumbnail(mediaId, record, request);
    setThumbnailHeaders(reply, file, authenticated);
    return reply.send(createReadStream(file.path));
  };
  for (const [path, authenticated] of [
    ['/_matrix/client/v1/media', true],
    ['/_matrix/media/v3', false],
    ['/_matrix/media/r0', false],
  ] as const) {
    app.get(`${path}/download/:serverName/:mediaId`, download(authenticated));
    app.get(`${path}/download/:serverName/:mediaId/:fileName`, download(authenticated));
    app.get(`${path}/thumbnail/:serverName/:mediaId`, thumbnail(authenticated));
  }

  // Uploads get the raw body as a stream (no JSON parsing, no buffering): their own scope.
  void app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', (_req, payload, done) => done(null, payload));
    const upload = async (req: FastifyRequest<{ Querystring: { filename?: string } }>, reply: FastifyReply) => {
      try {
        return await storeUpload(req);
      } catch (err) {
        // The rest of a refused body is not worth reading: answer, then close the connection.
        if (err instanceof MatrixError && err.status === 413) reply.header('connection', 'close');
        throw err;
      }
    };
    const storeUpload = async (req: FastifyRequest<{ Querystring: { filename?: string } }>) => {
      const user = await deps.requireUser(req);
      const declared = Number(req.headers['content-length']);
      if (Number.isFinite(declared) && declared > deps.maxUploadBytes) {
        throw new MatrixError(413, ErrCode.TOO_LARGE, `Uploads are limited to ${deps.maxUploadBytes} bytes`);
      }
      const contentType = (req.headers['content-type'] ?? DEFAULT_CONTENT_TYPE).trim() || DEFAULT_CONTENT_TYPE;
      if (contentType.length > MAX_CONTENT_TYPE_LENGTH) throw new MatrixError(400, ErrCode.INVALID_PARAM, 'Content-Type too long');
      const fileName = req.query.filename;
      if (fileName !== undefined && (fileName.length > MAX_FILE_NAME_LENGTH || /[\u0000-\u001f/\\]/.test(fileName))) {
        throw new MatrixError(400, ErrCode.INVALID_PARAM, 'filename must be a plain file name of at most 255 characters');
      }
      const body = req.body instanceof Readable ? req.body : req.raw;
      const mediaId = await deps.media.upload(body, {
        contentType,
        uploader: user.userId,
        maxBytes: deps.maxUploadBytes,
        ...(fileName ? { fileName } : {}),
      });
      return { content_uri: `mxc://${deps.serverName}/${mediaId}` };
    };
    for (const version of ['v3', 'r0']) scope.post(`/_matrix/media/${version}/upload`, upload);
  });
}

function setMediaHeaders(reply: FastifyReply, record: MediaRecord, requestedName: string | undefined, authenticated: boolean): void {
  const name = requestedName ?? record.fileName;
  const disposition = INLINE_TYPES.has(record.contentType) ? 'inline' : 'attachment';
  reply
    .header('content-type', record.contentType)
    .header('content-length', record.size)
    .header('content-disposition', name ? `${disposition}; filename*=utf-8''${encodeURIComponent(name)}` : disposition);
  setSafetyHeaders(reply, authenticated);
}

/** A thumbnail is always an image shown in place, named after its type (the spec: "MUST be `inline`"). */
function setThumbnailHeaders(reply: FastifyReply, file: ThumbnailFile, authenticated: boolean): void {
  reply
    .header('content-type', file.contentType)
    .header('content-length', file.size)
    .header('content-disposition', `inline; filename=thumbnail.${file.contentType.slice('image/'.length)}`);
  setSafetyHeaders(reply, authenticated);
}

function setSafetyHeaders(reply: FastifyReply, authenticated: boolean): void {
  reply
    // Never executed in our origin even if a browser sniffs it (what Synapse sends too).
    .header('content-security-policy', "sandbox; default-src 'none'; script-src 'none'; plugin-types application/pdf; style-src 'unsafe-inline'; media-src 'self'; object-src 'self';")
    .header('x-content-type-options', 'nosniff')
    .header('cross-origin-resource-policy', 'cross-origin')
    .header('cache-control', `${authenticated ? 'private' : 'public'}, max-age=86400, immutable`);
}
