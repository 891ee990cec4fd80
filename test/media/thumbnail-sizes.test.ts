/**
 * Which thumbnails an image has and which answers a request (src/media/thumbnail-sizes.ts), and the
 * request's query (thumbnail-request.ts): Synapse's sizes and choice, the spec's "never enlarge".
 */
import test from 'ava';
import {
  croppedSize,
  isTheOriginal,
  plannedThumbnails,
  scaledSize,
  selectThumbnail,
  sniffImageFormat,
  stillThumbnailType,
  thumbnailFileName,
  type SourceImage,
} from '../../src/media/thumbnail-sizes.js';
import { parseThumbnailRequest } from '../../src/media/thumbnail-request.js';
import { MatrixError } from '../../src/core/errors.js';

const photo: SourceImage = { format: 'jpeg', width: 4000, height: 3000, hasAlpha: false, animated: false };

test('a large photo has the five default thumbnails, encoded as JPEG', (t) => {
  const planned = plannedThumbnails(photo);
  t.deepEqual(
    planned.map((p) => `${p.width}x${p.height} ${p.method} ${p.type}`),
    ['32x32 crop image/jpeg', '96x96 crop image/jpeg', '320x240 scale image/jpeg', '640x480 scale image/jpeg', '800x600 scale image/jpeg'],
  );
});

test('scale keeps the aspect ratio within the box and never enlarges', (t) => {
  t.deepEqual(scaledSize({ width: 1000, height: 500 }, 320, 240), { width: 320, height: 160 });
  t.deepEqual(scaledSize({ width: 500, height: 1000 }, 320, 240), { width: 120, height: 240 });
  t.deepEqual(scaledSize({ width: 200, height: 100 }, 640, 480), { width: 200, height: 100 }, 'a small image stays its size');
  t.deepEqual(scaledSize({ width: 10000, height: 1 }, 320, 240), { width: 320, height: 1 }, 'never 0 pixels high');
});

test('crop is the box asked for, or the largest box of its shape inside a smaller image', (t) => {
  t.deepEqual(croppedSize({ width: 4000, height: 3000 }, 96, 96), { width: 96, height: 96 });
  t.deepEqual(croppedSize({ width: 20, height: 100 }, 96, 96), { width: 20, height: 20 });
  t.deepEqual(croppedSize({ width: 50, height: 40 }, 96, 96), { width: 40, height: 40 });
  t.deepEqual(croppedSize({ width: 100, height: 50 }, 96, 32), { width: 96, height: 32 });
  t.deepEqual(croppedSize({ width: 60, height: 50 }, 96, 32), { width: 60, height: 20 });
});

test('a small image: sizes that come out the same are made once, crops and scales apart; the one of its own size is the original', (t) => {
  const small: SourceImage = { format: 'png', width: 30, height: 30, hasAlpha: true, animated: false };
  const planned = plannedThumbnails(small);
  t.deepEqual(planned.map((p) => `${p.width}x${p.height} ${p.method}`), ['30x30 crop', '30x30 scale']);
  t.true(planned.every((p) => isTheOriginal(small, p)));
  t.like(selectThumbnail({ width: 96, height: 96, method: 'crop', animated: false }, planned), { width: 30, height: 30, method: 'crop' });
  t.false(isTheOriginal({ ...small, format: 'webp' }, { ...planned[0]!, type: 'image/png' }), 'a WebP is re-encoded as PNG');
});

test('encodings: JPEG for photographs, PNG for PNG, GIF and anything with alpha; animated images get WebP twins', (t) => {
  t.is(stillThumbnailType({ format: 'jpeg', hasAlpha: false }), 'image/jpeg');
  t.is(stillThumbnailType({ format: 'webp', hasAlpha: false }), 'image/jpeg');
  t.is(stillThumbnailType({ format: 'webp', hasAlpha: true }), 'image/png');
  t.is(stillThumbnailType({ format: 'gif', hasAlpha: false }), 'image/png');
  t.is(stillThumbnailType({ format: 'png', hasAlpha: false }), 'image/png');
  const gif: SourceImage = { format: 'gif', width: 1000, height: 1000, hasAlpha: false, animated: true };
  const planned = plannedThumbnails(gif);
  t.deepEqual(
    planned.map((p) => `${p.width}x${p.height} ${p.type}`),
    ['32x32 image/png', '32x32 image/webp', '96x96 image/png', '96x96 image/webp', '240x240 image/png', '240x240 image/webp', '480x480 image/png', '480x480 image/webp', '600x600 image/png', '600x600 image/webp'],
  );
  const still = selectThumbnail({ width: 96, height: 96, method: 'crop', animated: false }, planned);
  const moving = selectThumbnail({ width: 96, height: 96, method: 'crop', animated: true }, planned);
  t.like(still, { width: 96, height: 96, type: 'image/png', animated: false });
  t.like(moving, { width: 96, height: 96, type: 'image/webp', animated: true });
  t.like(selectThumbnail({ width: 96, height: 96, method: 'crop', animated: true }, plannedThumbnails(photo)), { type: 'image/jpeg', animated: false }, 'animated=true of a still image: as false');
  t.is(thumbnailFileName(moving!), '96x96-crop-animated.webp');
  t.is(thumbnailFileName(still!), '96x96-crop.png');
});

test("the best thumbnail for a request, as Synapse's _select_thumbnail picks it", (t) => {
  const planned = plannedThumbnails(photo);
  const pick = (width: number, height: number, method: 'crop' | 'scale') => {
    const spec = selectThumbnail({ width, height, method, animated: false }, planned);
    return spec && `${spec.width}x${spec.height} ${spec.method}`;
  };
  t.is(pick(32, 32, 'crop'), '32x32 crop');
  t.is(pick(40, 40, 'crop'), '96x96 crop', 'the smallest at least as large');
  t.is(pick(200, 200, 'crop'), '96x96 crop', 'none large enough: the largest smaller one');
  t.is(pick(320, 240, 'scale'), '320x240 scale');
  t.is(pick(500, 500, 'scale'), '640x480 scale', 'covers one dimension, closest in size');
  t.is(pick(1000, 1000, 'scale'), '800x600 scale');
  t.is(pick(10, 10, 'scale'), '320x240 scale');
  t.is(selectThumbnail({ width: 32, height: 32, method: 'crop', animated: false }, planned.filter((p) => p.method === 'scale')), undefined, 'no thumbnail of that method');
});

test('file formats are recognised from their bytes, nothing else reaches the decoder', (t) => {
  t.is(sniffImageFormat(Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 0, 0, 0, 0, 0, 0, 0])), 'jpeg');
  t.is(sniffImageFormat(Buffer.from('\x89PNG\r\n\x1a\n\0\0\0\0', 'latin1')), 'png');
  t.is(sniffImageFormat(Buffer.from('GIF89a\0\0\0\0\0\0')), 'gif');
  t.is(sniffImageFormat(Buffer.from('RIFF\0\0\0\0WEBP')), 'webp');
  t.is(sniffImageFormat(Buffer.from('RIFF\0\0\0\0WAVE')), undefined);
  t.is(sniffImageFormat(Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"/>')), undefined);
  t.is(sniffImageFormat(Buffer.from('II*\0\0\0\0\0\0\0\0\0')), undefined, 'TIFF');
  t.is(sniffImageFormat(Buffer.alloc(0)), undefined);
});

test('the query: width and height required non-negative integers, method crop or scale, animated true or false', (t) => {
  t.deepEqual(parseThumbnailRequest({ width: '96', height: '64' }), { width: 96, height: 64, method: 'scale', animated: false });
  t.deepEqual(parseThumbnailRequest({ width: '0', height: '1', method: 'crop', animated: 'true' }), { width: 0, height: 1, method: 'crop', animated: true });
  const refused = (query: Record<string, unknown>) => {
    const err = t.throws(() => parseThumbnailRequest(query), { instanceOf: MatrixError });
    return `${err?.status} ${(err as MatrixError).errcode}`;
  };
  t.is(refused({ height: '32' }), '400 M_MISSING_PARAM');
  t.is(refused({ width: '32' }), '400 M_MISSING_PARAM');
  for (const width of ['-1', '3.5', 'abc', '', ' 32', '1e3', '99999999999999999999']) t.is(refused({ width, height: '32' }), '400 M_INVALID_PARAM', width);
  t.is(refused({ width: ['32', '64'], height: '32' }), '400 M_INVALID_PARAM');
  t.is(refused({ width: '32', height: '32', method: 'zoom' }), '400 M_INVALID_PARAM');
  t.is(refused({ width: '32', height: '32', animated: 'yes' }), '400 M_INVALID_PARAM');
});
