/**
 * The media repository's store (client-server "Content repository"): uploaded files under
 * `<data dir>/media/<media id>`, their metadata in the `media` key space (docs/storage.md).
 *
 * Files, not LevelDB values: a photo is megabytes, and LevelDB would rewrite it in every compaction
 * it takes part in; a file is written once. An upload streams to `<id>.part` and is renamed into
 * place only when complete, so a crash mid-upload leaves no half file behind a media id (the next
 * start removes stray `.part` files).
 */
import { createReadStream, createWriteStream, mkdirSync, readdirSync, rmSync, statSync, type ReadStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import type { Database } from '../storage/db.js';
import { ErrCode, MatrixError } from '../core/errors.js';

/** What the store keeps about one upload. */
export interface MediaRecord {
  contentType: string;
  fileName?: string;
  size: number;
  uploader: string;
  createdAt: number;
}

/** Media ids are opaque to clients: 24 characters of [A-Za-z0-9] (Synapse's are similar). */
const MEDIA_ID_PATTERN = /^[A-Za-z0-9]{24}$/;
const MEDIA_ID_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

export function isMediaId(value: string): boolean {
  return MEDIA_ID_PATTERN.test(value);
}

function newMediaId(): string {
  let id = '';
  for (const byte of randomBytes(24)) id += MEDIA_ID_ALPHABET[byte % MEDIA_ID_ALPHABET.length];
  return id;
}

export class MediaStore {
  private readonly dir: string;

  constructor(
    private readonly db: Database,
    dataDir: string,
  ) {
    this.dir = join(dataDir, 'media');
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    // Uploads a crash interrupted: never acknowledged, never recorded.
    for (const name of readdirSync(this.dir)) if (name.endsWith('.part')) rmSync(join(this.dir, name), { force: true });
  }

  /**
   * Streams an upload to disk, refusing it (413 M_TOO_LARGE) as soon as it passes `maxBytes`, and
   * records it. Returns the new media id.
   */
  async upload(body: Readable, meta: { contentType: string; fileName?: string; uploader: string; maxBytes: number }): Promise<string> {
    const mediaId = newMediaId();
    const partPath = join(this.dir, `${mediaId}.part`);
    let size = 0;
    const limit = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        size += chunk.length;
        if (size > meta.maxBytes) done(new MatrixError(413, ErrCode.TOO_LARGE, `Uploads are limited to ${meta.maxBytes} bytes`));
        else done(null, chunk);
      },
    });
    // The body is piped by hand, not made part of the pipeline: a refused upload must not destroy
    // the client's connection (the 413 has to reach it), only stop being stored and be drained.
    body.once('error', (err) => limit.destroy(err));
    body.once('close', () => {
      if (!body.readableEnded) limit.destroy(new Error('upload aborted by the client'));
    });
    body.pipe(limit);
    try {
      await pipeline(limit, createWriteStream(partPath, { mode: 0o600 }));
      await rename(partPath, join(this.dir, mediaId));
    } catch (err) {
      body.unpipe(limit);
      body.resume();
      await rm(partPath, { force: true });
      throw err;
    }
    const record: MediaRecord = { contentType: meta.contentType, size, uploader: meta.uploader, createdAt: Date.now() };
    if (meta.fileName !== undefined) record.fileName = meta.fileName;
    try {
      await this.db.write([this.db.putJson('media', Buffer.from(mediaId), record)]);
    } catch (err) {
      await rm(join(this.dir, mediaId), { force: true });
      throw err;
    }
    return mediaId;
  }

  async get(mediaId: string): Promise<MediaRecord | undefined> {
    if (!isMediaId(mediaId)) return undefined;
    return this.db.getJson<MediaRecord>('media', Buffer.from(mediaId));
  }

  /** Where an upload's bytes are on disk (thumbnails are made from the file). */
  filePath(mediaId: string): string {
    if (!isMediaId(mediaId)) throw new Error(`not a media id: ${mediaId}`);
    return join(this.dir, mediaId);
  }

  /** The file's bytes, or undefined when the record has no file (removed by hand). */
  openFile(mediaId: string): ReadStream | undefined {
    const path = join(this.dir, mediaId);
    try {
      statSync(path);
    } catch {
      return undefined;
    }
    return createReadStream(path);
  }
}
