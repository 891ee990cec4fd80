/**
 * Other servers' media, fetched once over federation (server-server "Content Repository":
 * `GET /_matrix/federation/v1/media/download/{mediaId}`, authenticated) and kept in the local
 * content repository, so a picture in a room with Synapse users downloads once per gateway, not
 * once per client request. `remote_media` maps `(server, media id)` to the local copy's id.
 */
import { Readable } from 'node:stream';
import { ErrCode, MatrixError, notFound } from '../core/errors.js';
import { tuple } from '../storage/codec.js';
import type { Database } from '../storage/db.js';
import type { MediaStore } from './store.js';
import { fileNameOf, parseMediaResponse } from '../federation/media/multipart.js';

export interface RemoteMediaDeps {
  db: Database;
  media: MediaStore;
  /** The remote answer's bytes (signed request, bounded by `maxBytes`). */
  download(server: string, mediaId: string, maxBytes: number): Promise<Buffer>;
  /** Remote files larger than this are not fetched (the local upload limit). */
  maxBytes: number;
}

/** Remote media ids follow the same grammar as ours (client-server "Matrix Content (mxc://) URIs"). */
const MEDIA_ID = /^[A-Za-z0-9_-]{1,255}$/;

export class RemoteMediaCache {
  private readonly inFlight = new Map<string, Promise<string>>();

  constructor(private readonly deps: RemoteMediaDeps) {}

  /** The local media id holding `mxc://server/mediaId`, fetching it first if needed. */
  async localCopy(server: string, mediaId: string): Promise<string> {
    if (!MEDIA_ID.test(mediaId)) throw notFound('Media not found');
    const key = tuple(server, mediaId);
    const known = await this.deps.db.space('remoteMedia').get(key);
    if (known) return known.toString('utf8');
    const flightKey = `${server}\u0000${mediaId}`;
    let flight = this.inFlight.get(flightKey);
    if (!flight) {
      flight = this.fetchAndStore(server, mediaId, key).finally(() => this.inFlight.delete(flightKey));
      this.inFlight.set(flightKey, flight);
    }
    return flight;
  }

  private async fetchAndStore(server: string, mediaId: string, key: Buffer): Promise<string> {
    let bytes: Buffer;
    try {
      bytes = await this.deps.download(server, mediaId, this.deps.maxBytes + 64 * 1024);
    } catch (err) {
      const status = (err as { status?: number }).status;
      if (status === 404) throw notFound('Media not found');
      throw new MatrixError(502, ErrCode.UNKNOWN, `Could not fetch the media from ${server}: ${(err as Error).message}`);
    }
    let parsed;
    try {
      parsed = parseMediaResponse(bytes);
    } catch (err) {
      throw new MatrixError(502, ErrCode.UNKNOWN, `${server} answered with malformed media: ${(err as Error).message}`);
    }
    if (!('media' in parsed)) throw new MatrixError(502, ErrCode.UNKNOWN, `${server} redirects media elsewhere, which this server does not follow`);
    const fileName = fileNameOf(parsed.media.contentDisposition);
    const localId = await this.deps.media.upload(Readable.from([parsed.media.body]), {
      contentType: parsed.media.contentType,
      uploader: `@:${server}`,
      maxBytes: this.deps.maxBytes,
      ...(fileName && !/[\u0000-\u001f/\\]/.test(fileName) && fileName.length <= 255 ? { fileName } : {}),
    });
    await this.deps.db.write([this.deps.db.put('remoteMedia', key, Buffer.from(localId, 'utf8'))]);
    return localId;
  }
}
