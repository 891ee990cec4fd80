/**
 * Authenticated federation media (server-server "Content Repository"): other servers fetch our
 * users' uploads with `GET /_matrix/federation/v1/media/download/{mediaId}` and `.../thumbnail/`,
 * answered `multipart/mixed` (metadata, then the bytes). Thumbnails are not scaled on the gateway:
 * an image is its own thumbnail, as on the client side.
 */
import { randomBytes } from 'node:crypto';
import { PassThrough } from 'node:stream';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { notFound } from '../../core/errors.js';
import type { MediaStore } from '../../media/store.js';
import { multipartFrame } from '../../federation/media/multipart.js';

export interface FederationMediaDeps {
  originOf: (request: FastifyRequest) => Promise<string>;
  media: MediaStore;
}

const THUMBNAIL_TYPES = new Set(['image/jpeg', 'image/gif', 'image/png', 'image/apng', 'image/webp', 'image/avif']);

export function registerFederationMediaRoutes(app: FastifyInstance, deps: FederationMediaDeps): void {
  const serve = (thumbnail: boolean) => async (req: FastifyRequest, reply: import('fastify').FastifyReply) => {
    await deps.originOf(req);
    const { mediaId } = req.params as { mediaId: string };
    const record = await deps.media.get(mediaId);
    if (!record || (thumbnail && !THUMBNAIL_TYPES.has(record.contentType))) throw notFound('Media not found');
    const file = deps.media.openFile(mediaId);
    if (!file) throw notFound('Media not found');
    const boundary = randomBytes(16).toString('hex');
    const disposition = record.fileName ? `attachment; filename*=utf-8''${encodeURIComponent(record.fileName)}` : 'attachment';
    const { head, tail } = multipartFrame(boundary, { contentType: record.contentType, contentDisposition: disposition, length: record.size });
    const body = new PassThrough();
    body.write(head);
    file.on('error', (err) => body.destroy(err));
    file.on('end', () => body.end(tail));
    file.pipe(body, { end: false });
    reply.header('content-type', `multipart/mixed; boundary=${boundary}`).header('content-length', head.length + record.size + tail.length);
    return reply.send(body);
  };
  app.get('/_matrix/federation/v1/media/download/:mediaId', serve(false));
  app.get('/_matrix/federation/v1/media/thumbnail/:mediaId', serve(true));
}
