/**
 * Which thumbnails an image has, and which one answers a request (client-server "Thumbnails").
 * Pure: no I/O, no image library; `thumbnailer.ts` makes the files.
 *
 * As Synapse (its default `thumbnail_sizes`, `dynamic_thumbnails: false`): every image has the
 * same small set of thumbnails, and a request is answered with the best of that set for the size
 * and method asked, never one made to measure. A stranger can therefore make at most this many
 * thumbnails per image, whatever sizes they ask for. Unlike Synapse, a thumbnail is made when it is
 * first asked for, not at upload: the gateway spends nothing on images nobody looks at small.
 *
 * Two rules of the spec Synapse bends are kept: a thumbnail is never larger than the image
 * ("Servers MUST NOT upscale thumbnails"; Synapse's crop enlarges a small image), and when no
 * thumbnail would be smaller than the image, the image itself is the answer.
 */

export type ThumbnailMethod = 'crop' | 'scale';
export type ThumbnailType = 'image/jpeg' | 'image/png' | 'image/webp';
/** The formats thumbnails are made of (Synapse: `THUMBNAIL_SUPPORTED_MEDIA_FORMAT_MAP`). */
export type ImageFormat = 'jpeg' | 'png' | 'gif' | 'webp';

export interface ThumbnailSize {
  width: number;
  height: number;
  method: ThumbnailMethod;
}

/** One thumbnail an image has: its real dimensions, how it was made, what it is encoded as. */
export interface ThumbnailSpec extends ThumbnailSize {
  type: ThumbnailType;
  /** Every frame of an animated image (animated WebP), served only to `animated=true`. */
  animated: boolean;
}

/** What a thumbnail request asks for (its query parameters, validated). */
export interface ThumbnailRequest extends ThumbnailSize {
  animated: boolean;
}

/** The image a thumbnail is made from, as its header describes it. */
export interface SourceImage {
  format: ImageFormat;
  /** Displayed dimensions: after the EXIF orientation is applied (a portrait photo is taller). */
  width: number;
  height: number;
  hasAlpha: boolean;
  /** More than one frame (GIF, WebP or APNG animation). */
  animated: boolean;
}

/** Synapse's default `thumbnail_sizes`, the spec's list ("Servers SHOULD produce thumbnails with..."). */
export const DEFAULT_THUMBNAIL_SIZES: readonly ThumbnailSize[] = [
  { width: 32, height: 32, method: 'crop' },
  { width: 96, height: 96, method: 'crop' },
  { width: 320, height: 240, method: 'scale' },
  { width: 640, height: 480, method: 'scale' },
  { width: 800, height: 600, method: 'scale' },
];

/** Declared content types whose files are thumbnailed (Synapse's list). */
export const THUMBNAILABLE_CONTENT_TYPES: ReadonlySet<string> = new Set(['image/jpeg', 'image/jpg', 'image/png', 'image/gif', 'image/webp']);

/**
 * The format of a file from its first bytes, or undefined for anything else. The image library can
 * read many more formats (SVG, TIFF, HEIF...); only these four reach it, whatever the uploader
 * declared, so a hostile file cannot pick a less travelled decoder.
 */
export function sniffImageFormat(head: Uint8Array): ImageFormat | undefined {
  const ascii = (from: number, text: string) => [...text].every((c, i) => head[from + i] === c.charCodeAt(0));
  if (head[0] === 0xff && head[1] === 0xd8 && head[2] === 0xff) return 'jpeg';
  if (head[0] === 0x89 && ascii(1, 'PNG\r\n\u001a\n')) return 'png';
  if (ascii(0, 'GIF87a') || ascii(0, 'GIF89a')) return 'gif';
  if (ascii(0, 'RIFF') && ascii(8, 'WEBP')) return 'webp';
  return undefined;
}

/** Bytes `sniffImageFormat` needs. */
export const SNIFF_BYTES = 12;

/**
 * The encoding of a still thumbnail, as Synapse: JPEG for photographs (JPEG and WebP), PNG for
 * GIF and PNG (they have transparency), and PNG for any source with an alpha channel, which JPEG
 * would flatten.
 */
export function stillThumbnailType(source: Pick<SourceImage, 'format' | 'hasAlpha'>): ThumbnailType {
  if (source.format === 'png' || source.format === 'gif' || source.hasAlpha) return 'image/png';
  return 'image/jpeg';
}

/** The type animated thumbnails are encoded as (the spec: "Servers SHOULD prefer to return image/webp"). */
export const ANIMATED_THUMBNAIL_TYPE: ThumbnailType = 'image/webp';

/**
 * `scale`: the largest size of the image's aspect ratio within `width` x `height`, never larger
 * than the image (Synapse's `Thumbnailer.aspect`, then clamped as it does).
 */
export function scaledSize(source: Pick<SourceImage, 'width' | 'height'>, width: number, height: number): { width: number; height: number } {
  const fitted =
    width * source.height < height * source.width
      ? { width, height: Math.max(Math.floor((width * source.height) / source.width), 1) }
      : { width: Math.max(Math.floor((height * source.width) / source.height), 1), height };
  return { width: Math.min(source.width, fitted.width), height: Math.min(source.height, fitted.height) };
}

/**
 * `crop`: exactly `width` x `height` cut from the middle of the scaled image; for an image too
 * small for that, the largest box of the same aspect ratio that fits in it, unscaled (the spec
 * forbids enlarging; Synapse would).
 */
export function croppedSize(source: Pick<SourceImage, 'width' | 'height'>, width: number, height: number): { width: number; height: number } {
  if (width <= source.width && height <= source.height) return { width, height };
  // Too small in one dimension at least: take the whole of the limiting side.
  if (source.width * height <= source.height * width) {
    return { width: source.width, height: Math.max(Math.floor((source.width * height) / width), 1) };
  }
  return { width: Math.max(Math.floor((source.height * width) / height), 1), height: source.height };
}

/**
 * The thumbnails an image has: each configured size as its method makes it for this image (sizes
 * that come out the same for this image once), and for an animated image an animated version of
 * each beside the still one. Synapse also drops a crop that has the dimensions of a scale; here
 * a crop never enlarges, so for a small image every crop could vanish that way and leave crop
 * requests unanswered: crops and scales are kept apart.
 */
export function plannedThumbnails(source: SourceImage, sizes: readonly ThumbnailSize[] = DEFAULT_THUMBNAIL_SIZES): ThumbnailSpec[] {
  const still = stillThumbnailType(source);
  const distinct = new Map<string, ThumbnailSize>();
  for (const size of sizes) {
    const dims = size.method === 'crop' ? croppedSize(source, size.width, size.height) : scaledSize(source, size.width, size.height);
    const key = `${dims.width}x${dims.height}-${size.method}`;
    if (!distinct.has(key)) distinct.set(key, { ...dims, method: size.method });
  }
  const planned: ThumbnailSpec[] = [];
  for (const size of distinct.values()) {
    planned.push({ ...size, type: still, animated: false });
    if (source.animated) planned.push({ ...size, type: ANIMATED_THUMBNAIL_TYPE, animated: true });
  }
  return planned;
}

/** True when a thumbnail would be the image itself: same size, same encoding, still. */
export function isTheOriginal(source: SourceImage, spec: ThumbnailSpec): boolean {
  if (spec.width !== source.width || spec.height !== source.height) return false;
  if (spec.animated) return source.format === 'webp';
  return !source.animated && `image/${source.format}` === spec.type;
}

/**
 * The thumbnail that answers a request (Synapse's `_select_thumbnail`): only thumbnails of the
 * method asked; first those at least as large as asked in one dimension, else the largest smaller
 * ones; among them, for `crop` the closest aspect ratio, then one covering both dimensions, then
 * the smallest difference in size; for `scale` the smallest difference in size. Ties go to the
 * earlier size. `animated=false` never gets an animated thumbnail (the spec's MUST NOT); `true`
 * gets one when the image has them.
 */
export function selectThumbnail(request: ThumbnailRequest, planned: readonly ThumbnailSpec[]): ThumbnailSpec | undefined {
  const wantAnimated = request.animated && planned.some((t) => t.animated);
  const { width: dw, height: dh } = request;
  let best: { spec: ThumbnailSpec; covers: boolean; score: number[] } | undefined;
  for (const spec of planned) {
    if (spec.method !== request.method || spec.animated !== wantAnimated) continue;
    const { width: tw, height: th } = spec;
    const covers = tw >= dw || th >= dh;
    const sizeQuality = Math.abs((dw - tw) * (dh - th));
    const score =
      request.method === 'crop'
        ? [Math.abs(dw * th - dh * tw), dw <= tw && dh <= th ? 0 : 1, sizeQuality]
        : [sizeQuality];
    if (!best || (covers && !best.covers) || (covers === best.covers && lexicographicallyLess(score, best.score))) best = { spec, covers, score };
  }
  return best?.spec;
}

function lexicographicallyLess(a: number[], b: number[]): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! < b[i]!;
  return false;
}

/** The file name of a thumbnail in its image's folder: `320x240-scale.jpg`, `96x96-crop-animated.webp`. */
export function thumbnailFileName(spec: ThumbnailSpec): string {
  const extension = spec.type === 'image/jpeg' ? 'jpg' : spec.type === 'image/png' ? 'png' : 'webp';
  return `${spec.width}x${spec.height}-${spec.method}${spec.animated ? '-animated' : ''}.${extension}`;
}
