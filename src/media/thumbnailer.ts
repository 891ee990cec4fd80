/**
 * Thumbnails of uploaded images (client-server "Thumbnails"), made with the image library
 * (image-library.ts) the first time they are asked for and kept on disk:
 * `<data>/thumbnails/<media id>/<width>x<height>-<method>[-animated].<jpg|png|webp>`
 * (docs/storage.md). Which thumbnail answers a request is thumbnail-sizes.ts.
 *
 * Every image is hostile until proven otherwise:
 * - only JPEG, PNG, GIF and WebP files reach the decoder, recognised from their bytes;
 * - the image's header is read first and an image over `maxImagePixels` (Synapse's
 *   `max_image_pixels`, 32 M by default) is refused before anything is decoded, so a
 *   decompression bomb (a 30000 x 30000 PNG of a few kilobytes) costs a header read; the decoder
 *   is given the same limit in case the header lied;
 * - at most `maxJobs` thumbnails are made at once and `maxWaiting` wait; more are refused with
 *   429 M_LIMIT_EXCEEDED (Synapse queues without end on its thread pool); each job has a deadline;
 * - libvips keeps no cache and uses one thread per image (image-library.ts);
 * - requests for a thumbnail being made wait for that one job.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { open, rename, rm, stat, mkdir } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { ErrCode, MatrixError, notFound } from '../core/errors.js';
import { BoundedWorkQueue, WorkQueueFullError } from '../limits/work-queue.js';
import { ImageLibrary, type Sharp } from './image-library.js';
import type { MediaRecord } from './store.js';
import {
  DEFAULT_THUMBNAIL_SIZES,
  SNIFF_BYTES,
  THUMBNAILABLE_CONTENT_TYPES,
  isTheOriginal,
  plannedThumbnails,
  selectThumbnail,
  sniffImageFormat,
  thumbnailFileName,
  type SourceImage,
  type ThumbnailRequest,
  type ThumbnailSize,
  type ThumbnailSpec,
} from './thumbnail-sizes.js';

export interface ThumbnailerOptions {
  dataDir: string;
  /** Where an upload's bytes are (MediaStore.filePath). */
  originalPath(mediaId: string): string;
  log: Pick<Logger, 'warn' | 'info'>;
  /** Images with more pixels than this are not thumbnailed (413 M_TOO_LARGE). Default 32 M, as Synapse. */
  maxImagePixels?: number;
  sizes?: readonly ThumbnailSize[];
  /** Thumbnails made at once (default 1: one core of a two-core board). */
  maxJobs?: number;
  /** Thumbnail jobs waiting beyond those (default 16); more are 429 M_LIMIT_EXCEEDED. */
  maxWaiting?: number;
  /** One job's deadline, decoding and encoding (default 30 s). */
  jobTimeoutSeconds?: number;
  library?: ImageLibrary;
}

/** The file that answers a thumbnail request. */
export interface ThumbnailFile {
  path: string;
  size: number;
  contentType: string;
  width: number;
  height: number;
  /** The upload itself, when no thumbnail would be smaller (the spec: "return the original content"). */
  original: boolean;
}

export const DEFAULT_MAX_IMAGE_PIXELS = 32 * 1024 * 1024;
/** Images whose header was read, by media id: a thumbnail request costs no file open then. */
const PROBE_CACHE_SIZE = 256;
/** What one thumbnail of a large photo takes on a Pi (for `retry_after_ms`). */
const TYPICAL_JOB_MS = 500;

type Probe = { source: SourceImage } | { refusal: MatrixError };

/** Counts since start, for /metrics (docs/metrics.md). */
export interface ThumbnailStats {
  /** Thumbnails made and written to disk. */
  made: number;
  /** Refusals: the queue full (429), over the pixel limit (413), content that cannot be thumbnailed (400). */
  refused: { busy: number; tooLarge: number; unusable: number };
}

export class Thumbnailer {
  private readonly dir: string;
  private readonly tmpDir: string;
  private readonly maxImagePixels: number;
  private readonly sizes: readonly ThumbnailSize[];
  private readonly jobTimeoutSeconds: number;
  private readonly library: ImageLibrary;
  private readonly queue: BoundedWorkQueue;
  private readonly probes = new Map<string, Probe>();
  private readonly inFlight = new Map<string, Promise<void>>();
  readonly stats: ThumbnailStats = { made: 0, refused: { busy: 0, tooLarge: 0, unusable: 0 } };

  constructor(private readonly opts: ThumbnailerOptions) {
    this.dir = join(opts.dataDir, 'thumbnails');
    // Thumbnails are written here and renamed into place: what a crash left is never a thumbnail.
    this.tmpDir = join(this.dir, '.tmp');
    rmSync(this.tmpDir, { recursive: true, force: true });
    mkdirSync(this.tmpDir, { recursive: true, mode: 0o700 });
    this.maxImagePixels = opts.maxImagePixels ?? DEFAULT_MAX_IMAGE_PIXELS;
    this.sizes = opts.sizes ?? DEFAULT_THUMBNAIL_SIZES;
    this.jobTimeoutSeconds = opts.jobTimeoutSeconds ?? 30;
    this.library = opts.library ?? new ImageLibrary(opts.log);
    this.queue = new BoundedWorkQueue({ name: 'thumbnails', concurrency: opts.maxJobs ?? 1, maxWaiting: opts.maxWaiting ?? 16, typicalJobMs: TYPICAL_JOB_MS });
  }

  /** Jobs running and waiting (for /metrics and tests). */
  get depth(): { running: number; waiting: number } {
    return this.queue.depth;
  }

  /** Where a thumbnail of this media is kept (whether or not it was made yet). */
  thumbnailPath(mediaId: string, spec: ThumbnailSpec): string {
    return join(this.dir, mediaId, thumbnailFileName(spec));
  }

  /**
   * The thumbnail answering `request` for an upload, made first if needed. Refusals are
   * MatrixErrors: 400 M_UNKNOWN for content that cannot be thumbnailed (not an image of a known
   * format, unreadable, or no image library: as Synapse), 413 M_TOO_LARGE for an image over the
   * pixel limit (the spec; Synapse answers 400), 429 M_LIMIT_EXCEEDED when the queue is full.
   */
  async thumbnail(mediaId: string, record: MediaRecord, request: ThumbnailRequest): Promise<ThumbnailFile> {
    try {
      return await this.answer(mediaId, record, request);
    } catch (err) {
      if (err instanceof MatrixError) {
        if (err.status === 429) this.stats.refused.busy++;
        else if (err.status === 413) this.stats.refused.tooLarge++;
        else if (err.status === 400) this.stats.refused.unusable++;
      }
      throw err;
    }
  }

  private async answer(mediaId: string, record: MediaRecord, request: ThumbnailRequest): Promise<ThumbnailFile> {
    const contentType = record.contentType.split(';')[0]!.trim().toLowerCase();
    if (!THUMBNAILABLE_CONTENT_TYPES.has(contentType)) {
      throw cannotThumbnail(`Cannot generate thumbnails for content of type ${contentType}: only JPEG, PNG, GIF and WebP images have thumbnails`);
    }
    const sharp = await this.library.get();
    if (!sharp) throw cannotThumbnail(`This server cannot make thumbnails (${this.library.unavailableReason}); the original is still downloadable`);
    const probe = await this.probe(sharp, mediaId);
    if ('refusal' in probe) throw probe.refusal;
    const { source } = probe;
    const spec = selectThumbnail(request, plannedThumbnails(source, this.sizes));
    // Only when the configured sizes have none of this method (Synapse: 404).
    if (!spec) throw new MatrixError(404, ErrCode.NOT_FOUND, `No ${request.method} thumbnails are made on this server`);
    const original = this.opts.originalPath(mediaId);
    if (isTheOriginal(source, spec)) {
      return { path: original, size: (await stat(original)).size, contentType: `image/${source.format}`, width: spec.width, height: spec.height, original: true };
    }
    const path = this.thumbnailPath(mediaId, spec);
    const made = await sizeOf(path);
    if (made === undefined) await this.make(sharp, original, mediaId, spec, path);
    return { path, size: made ?? (await stat(path)).size, contentType: spec.type, width: spec.width, height: spec.height, original: false };
  }

  /** The image's header: format from its bytes, dimensions, alpha, frames; or why it has no thumbnails. */
  private async probe(sharp: Sharp, mediaId: string): Promise<Probe> {
    const known = this.probes.get(mediaId);
    if (known) {
      this.probes.delete(mediaId);
      this.probes.set(mediaId, known);
      return known;
    }
    const probe = await this.readHeader(sharp, mediaId);
    this.probes.set(mediaId, probe);
    if (this.probes.size > PROBE_CACHE_SIZE) this.probes.delete(this.probes.keys().next().value!);
    return probe;
  }

  private async readHeader(sharp: Sharp, mediaId: string): Promise<Probe> {
    const path = this.opts.originalPath(mediaId);
    const head = Buffer.alloc(SNIFF_BYTES);
    let file;
    try {
      file = await open(path, 'r');
    } catch (err) {
      // A record whose file was removed by hand: as a download of it (not remembered: it may come back).
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw notFound('Media not found');
      throw err;
    }
    try {
      await file.read(head, 0, SNIFF_BYTES, 0);
    } finally {
      await file.close();
    }
    const format = sniffImageFormat(head);
    if (!format) return { refusal: cannotThumbnail('Cannot generate thumbnails: the file is not a JPEG, PNG, GIF or WebP image') };
    let meta;
    try {
      // The header only: nothing is decoded here.
      meta = await sharp(path, { limitInputPixels: false }).metadata();
    } catch (err) {
      return { refusal: cannotThumbnail(`Cannot generate thumbnails: the image cannot be read (${firstLine(err)})`) };
    }
    if (meta.format !== format) return { refusal: cannotThumbnail(`Cannot generate thumbnails: the image is not the ${format} its bytes begin as`) };
    const pixels = meta.width * (meta.pageHeight ?? meta.height);
    if (!(pixels > 0)) return { refusal: cannotThumbnail('Cannot generate thumbnails: the image has no size') };
    if (pixels > this.maxImagePixels) {
      this.opts.log.info({ mediaId, width: meta.width, height: meta.pageHeight ?? meta.height }, 'image over the pixel limit: no thumbnails');
      return {
        refusal: new MatrixError(413, ErrCode.TOO_LARGE, `Content is too large to thumbnail: ${meta.width} x ${meta.pageHeight ?? meta.height} pixels is more than this server's ${this.maxImagePixels}`),
      };
    }
    const frames = meta.pages ?? 1;
    const oriented = meta.autoOrient ?? { width: meta.width, height: meta.height };
    return {
      source: {
        format,
        width: oriented.width,
        height: frames > 1 ? meta.pageHeight ?? oriented.height : oriented.height,
        hasAlpha: meta.hasAlpha === true,
        // Every frame is decoded for an animated thumbnail: all of them count against the limit.
        animated: frames > 1 && pixels * frames <= this.maxImagePixels,
      },
    };
  }

  /** One job per thumbnail, however many ask for it at once; waits in the bounded queue. */
  private make(sharp: Sharp, original: string, mediaId: string, spec: ThumbnailSpec, path: string): Promise<void> {
    let job = this.inFlight.get(path);
    if (!job) {
      job = this.queue
        .run(() => this.render(sharp, original, mediaId, spec, path))
        .catch((err: unknown) => {
          if (err instanceof WorkQueueFullError) {
            throw new MatrixError(429, ErrCode.LIMIT_EXCEEDED, 'Too many thumbnails are being made: retry shortly', { retry_after_ms: err.retryAfterMs });
          }
          throw err;
        })
        .finally(() => this.inFlight.delete(path));
      this.inFlight.set(path, job);
    }
    return job;
  }

  private async render(sharp: Sharp, original: string, mediaId: string, spec: ThumbnailSpec, path: string): Promise<void> {
    const tmp = join(this.tmpDir, randomBytes(12).toString('hex'));
    try {
      let image = sharp(original, {
        // The header was checked; the decoder checks again (all frames of an animation count).
        limitInputPixels: this.maxImagePixels,
        sequentialRead: true,
        autoOrient: true,
        ...(spec.animated ? { animated: true } : {}),
      })
        // crop: fill the box and cut the middle; scale: the planned size already has the image's aspect.
        .resize(spec.width, spec.height, { fit: spec.method === 'crop' ? 'cover' : 'fill' })
        .timeout({ seconds: this.jobTimeoutSeconds });
      if (spec.animated) image = image.webp({ quality: 80, effort: 2 });
      else if (spec.type === 'image/jpeg') image = image.jpeg({ quality: 80 });
      else image = image.png({ compressionLevel: 6 });
      await image.toFile(tmp);
      await mkdir(join(this.dir, mediaId), { recursive: true, mode: 0o700 });
      await rename(tmp, path);
      this.stats.made++;
    } catch (err) {
      await rm(tmp, { force: true });
      if (err instanceof MatrixError) throw err;
      const message = firstLine(err);
      this.opts.log.info({ mediaId, err: message }, 'thumbnail failed');
      if (/pixel limit/i.test(message)) throw new MatrixError(413, ErrCode.TOO_LARGE, 'Content is too large to thumbnail');
      if (/timeout/i.test(message)) throw cannotThumbnail(`Cannot generate a thumbnail: it took longer than ${this.jobTimeoutSeconds} s`);
      throw cannotThumbnail(`Cannot generate a thumbnail: ${message}`);
    }
  }
}

function cannotThumbnail(message: string): MatrixError {
  return new MatrixError(400, ErrCode.UNKNOWN, message);
}

function firstLine(err: unknown): string {
  return String((err as Error)?.message ?? err).split('\n')[0]!;
}

async function sizeOf(path: string): Promise<number | undefined> {
  try {
    return (await stat(path)).size;
  } catch {
    return undefined;
  }
}
