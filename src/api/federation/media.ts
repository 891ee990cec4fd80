/**
 * Authenticated federation media (server-server "Content Repository"): other servers fetch our
 * users' uploads with `GET /_matrix/federation/v1/media/download/{mediaId}` and their thumbnails
 * with `GET /_matrix/federation/v1/media/thumbnail/{mediaId}` (the client API's query parameters;
 * the same thumbnails, media/thumbnailer.ts), answered `multipart/mixed` (metadata, then the bytes).
 */
import { randomBytes } from 'node:crypto';
import { createReadStream, type ReadStream } from 'node:fs';
import { PassThrough } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { notFound } from '../../core/errors.js';
import type { MediaStore } from '../../media/store.js';
import type { Thumbnailer } from '../../media/thumbnailer.js';
import { parseThumbnailRequest } from '../../media/thumbnail-request.js';
import { multipartFrame } from '../../federation/media/multipart.js';

export interface FederationMediaDeps {
  originOf: (request: FastifyRequest) => Promise<string>;
  media: MediaStore;
  thumbnails: Thumbnailer;
}

type MediaRequest = FastifyRequest<{ Params: { mediaId: string }; Querystring: Record<string, unknown> }>;

export function registerFederationMediaRoutes(app: FastifyInstance, deps: FederationMediaDeps): void {
  app.get('/_matrix/federation/v1/media/download/:mediaId', async (req: MediaRequest, reply) => {
    await deps.originOf(req);
    const record = await deps.media.get(req.params.mediaId);
    if (!record) throw notFound('Media not found');
    const file = deps.media.openFile(req.params.mediaId);
    if (!file) throw notFound('Media not found');
    const disposition = record.fileName ? `attachment; filename*=utf-8''${encodeURIComponent(record.fileName)}` : 'attachment';
    return sendMultipart(reply, file, { contentType: record.contentType, contentDisposition: disposition, length: record.size });
  });

  app.get('/_matrix/federation/v1/media/thumbnail/:mediaId', async (req: MediaRequest, reply) => {
    await deps.originOf(req);
    const request = parseThumbnailRequest(req.query);
    const record = await deps.media.get(req.params.mediaId);
    if (!record) throw notFound('Media not found');
    const thumbnail = await deps.thumbnails.thumbnail(req.params.mediaId, record, request);
    const name = `thumbnail.${thumbnail.contentType.slice('image/'.length)}`;
    return sendMultipart(reply, createReadStream(thumbnail.path), { contentType: thumbnail.contentType, contentDisposition: `inline; filename=${name}`, length: thumbnail.size });
  });
}

function sendMultipart(reply: FastifyReply, file: ReadStream, part: { contentType: string; contentDisposition: string; length: number }) {
  const boundary = randomBytes(16).toString('hex');
  const { head, tail } = multipartFrame(boundary, part);
  const body = new PassThrough();
  body.write(head);
  file.on('error', (err) => body.destroy(err));
  file.on('end', () => body.end(tail));
  file.pipe(body, { end: false });
  reply.header('content-type', `multipart/mixed; boundary=${boundary}`).header('content-length', head.length + part.length + tail.length);
  return reply.send(body);
}
