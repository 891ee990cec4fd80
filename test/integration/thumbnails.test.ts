/**
 * Thumbnails with real images (issue 13; client-server "Thumbnails"): JPEG, PNG, GIF and WebP
 * uploads made with sharp, their thumbnails decoded with sharp and checked for size, format and
 * which pixels they kept (crop cuts the middle, scale keeps everything); matrix-js-sdk's
 * `mxcUrlToHttp`; the disk cache; a decompression bomb refused while the gateway keeps answering;
 * bad queries; the legacy path; and the federation thumbnail another server asks for.
 */
import anyTest, { type TestFn } from 'ava';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { decompressionBomb } from '../helpers/decompression-bomb.js';
import * as sdk from 'matrix-js-sdk';
import sharp from 'sharp';
import { startHearth, type HearthServer } from './helpers/server.js';
import { registerUser, type RegisteredUser } from './helpers/http.js';
import { silenceSdk, unrefSdkRequestTimers } from './helpers/sdk.js';
import { signedFederationGet } from './helpers/signed-federation-get.js';
import { parseMediaResponse } from '../../src/federation/media/multipart.js';

silenceSdk();
unrefSdkRequestTimers();

const test = anyTest as TestFn<{ hearth: HearthServer; peer: HearthServer; alice: RegisteredUser; client: sdk.MatrixClient }>;

test.before(async (t) => {
  const [hearth, peer] = await Promise.allSettled([startHearth({ federated: true }), startHearth({ federated: true })]);
  if (hearth.status === 'rejected' || peer.status === 'rejected') {
    if (hearth.status === 'fulfilled') await hearth.value.stop();
    if (peer.status === 'fulfilled') await peer.value.stop();
    throw hearth.status === 'rejected' ? hearth.reason : (peer as PromiseRejectedResult).reason;
  }
  const alice = await registerUser(hearth.value.baseUrl, 'alice', 'pw-alice-thumbs');
  const client = sdk.createClient({ baseUrl: hearth.value.baseUrl, accessToken: alice.accessToken, userId: alice.userId, deviceId: alice.deviceId });
  t.context = { hearth: hearth.value, peer: peer.value, alice, client };
});
test.after.always(async (t) => {
  t.context.client?.stopClient();
  await Promise.all([t.context.hearth?.stop(), t.context.peer?.stop()]);
});

const RED = { r: 255, g: 0, b: 0 };
const GREEN = { r: 0, g: 255, b: 0 };
const BLUE = { r: 0, g: 0, b: 255 };
type Colour = typeof RED;

/** `width` x `height` in three vertical bands, red | green | blue: a crop keeps only the green middle. */
async function bands(width: number, height: number, alpha = false) {
  const band = Math.floor(width / 3);
  const composite = [RED, GREEN, BLUE].map((colour, i) => ({
    input: { create: { width: i === 2 ? width - 2 * band : band, height, channels: 3 as const, background: colour } },
    left: i * band,
    top: 0,
  }));
  return sharp({ create: { width, height, channels: alpha ? 4 : 3, background: alpha ? { r: 0, g: 0, b: 0, alpha: 0.5 } : { r: 0, g: 0, b: 0 } } }).composite(composite);
}

async function upload(t: { context: { client: sdk.MatrixClient } }, bytes: Buffer, type: string): Promise<string> {
  return (await t.context.client.uploadContent(new Uint8Array(bytes), { type, name: 'picture' })).content_uri;
}

async function fetchThumbnail(t: { context: { hearth: HearthServer; alice: RegisteredUser } }, mxc: string, query: string, token: string | undefined = t.context.alice.accessToken, prefix = '/_matrix/client/v1/media') {
  const res = await fetch(`${t.context.hearth.baseUrl}${prefix}/thumbnail/${mxc.slice('mxc://'.length)}?${query}`, token ? { headers: { authorization: `Bearer ${token}` } } : {});
  return { status: res.status, headers: res.headers, bytes: Buffer.from(await res.arrayBuffer()) };
}

/** The colour of one pixel of a decoded image. */
async function pixel(image: Buffer, x: number, y: number): Promise<Colour> {
  const { data, info } = await sharp(image).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const at = (y * info.width + x) * info.channels;
  return { r: data[at]!, g: data[at + 1]!, b: data[at + 2]! };
}

function near(t: import('ava').ExecutionContext, actual: Colour, expected: Colour, what: string) {
  const close = Math.abs(actual.r - expected.r) < 40 && Math.abs(actual.g - expected.g) < 40 && Math.abs(actual.b - expected.b) < 40;
  t.true(close, `${what}: ${JSON.stringify(actual)} is not ${JSON.stringify(expected)}`);
}

function mediaIdOf(mxc: string): string {
  return mxc.slice(mxc.lastIndexOf('/') + 1);
}

test.serial('a JPEG through matrix-js-sdk mxcUrlToHttp: crop cuts the middle at the size asked, scale keeps the whole picture', async (t) => {
  const mxc = await upload(t, await (await bands(1200, 400)).jpeg({ quality: 95 }).toBuffer(), 'image/jpeg');
  const url = t.context.client.mxcUrlToHttp(mxc, 96, 96, 'crop', false, true, true);
  t.regex(url ?? '', /\/_matrix\/client\/v1\/media\/thumbnail\/.*width=96&height=96&method=crop/);
  const cropRes = await fetch(url!, { headers: { authorization: `Bearer ${t.context.alice.accessToken}` } });
  t.is(cropRes.status, 200);
  t.is(cropRes.headers.get('content-type'), 'image/jpeg');
  t.is(cropRes.headers.get('content-disposition'), 'inline; filename=thumbnail.jpeg');
  const crop = Buffer.from(await cropRes.arrayBuffer());
  t.is(Number(cropRes.headers.get('content-length')), crop.length);
  t.like(await sharp(crop).metadata(), { format: 'jpeg', width: 96, height: 96 });
  // 1200x400 scaled to 288x96, the middle 96 columns kept: the green band only.
  near(t, await pixel(crop, 4, 48), GREEN, 'crop, left edge');
  near(t, await pixel(crop, 91, 48), GREEN, 'crop, right edge');

  const scale = await fetchThumbnail(t, mxc, 'width=320&height=240&method=scale');
  t.is(scale.status, 200);
  t.like(await sharp(scale.bytes).metadata(), { format: 'jpeg', width: 320, height: 106 }, 'the aspect ratio kept (3:1)');
  near(t, await pixel(scale.bytes, 5, 53), RED, 'scale, left');
  near(t, await pixel(scale.bytes, 160, 53), GREEN, 'scale, middle');
  near(t, await pixel(scale.bytes, 314, 53), BLUE, 'scale, right');

  // Asked for 500x500: the stored size that covers it best (Synapse's choice), 640x213 of this image.
  const larger = await fetchThumbnail(t, mxc, 'width=500&height=500&method=scale');
  t.like(await sharp(larger.bytes).metadata(), { width: 640, height: 213 });
});

test.serial('PNG with transparency stays PNG and keeps its alpha; WebP becomes JPEG; a GIF gives its first frame, or an animated WebP when asked', async (t) => {
  const png = await upload(t, await (await bands(900, 600, true)).png().toBuffer(), 'image/png');
  const pngThumb = await fetchThumbnail(t, png, 'width=96&height=96&method=crop');
  t.is(pngThumb.headers.get('content-type'), 'image/png');
  t.like(await sharp(pngThumb.bytes).metadata(), { format: 'png', width: 96, height: 96, hasAlpha: true });

  const webp = await upload(t, await (await bands(900, 600)).webp().toBuffer(), 'image/webp');
  const webpThumb = await fetchThumbnail(t, webp, 'width=320&height=240&method=scale');
  t.is(webpThumb.headers.get('content-type'), 'image/jpeg');
  t.like(await sharp(webpThumb.bytes).metadata(), { format: 'jpeg', width: 320, height: 213 });

  const frames = await Promise.all([RED, GREEN, BLUE].map((colour) => sharp({ create: { width: 400, height: 300, channels: 3, background: colour } }).png().toBuffer()));
  const gifBytes = await sharp(frames, { join: { animated: true } }).gif({ delay: [200, 200, 200], loop: 0 }).toBuffer();
  t.is((await sharp(gifBytes).metadata()).pages, 3, 'the test GIF is animated');
  const gif = await upload(t, gifBytes, 'image/gif');
  for (const query of ['width=96&height=96&method=crop', 'width=96&height=96&method=crop&animated=false']) {
    const still = await fetchThumbnail(t, gif, query);
    t.is(still.headers.get('content-type'), 'image/png', query);
    const meta = await sharp(still.bytes, { animated: true }).metadata();
    t.like(meta, { format: 'png', width: 96, height: 96 }, query);
    t.is(meta.pages ?? 1, 1, `${query}: one frame`);
    near(t, await pixel(still.bytes, 48, 48), RED, `${query}: the first frame`);
  }
  const animated = await fetchThumbnail(t, gif, 'width=96&height=96&method=crop&animated=true');
  t.is(animated.headers.get('content-type'), 'image/webp');
  t.like(await sharp(animated.bytes, { animated: true }).metadata(), { format: 'webp', width: 96, pageHeight: 96, pages: 3 });
  // A still image asked for animated: a still thumbnail (the spec: as though animated were false).
  const notAnimated = await fetchThumbnail(t, webp, 'width=96&height=96&method=crop&animated=true');
  t.is(notAnimated.headers.get('content-type'), 'image/jpeg');
});

test.serial('a thumbnail is made once and served from disk afterwards; an image smaller than every thumbnail is its own', async (t) => {
  const mxc = await upload(t, await (await bands(1500, 1000)).jpeg().toBuffer(), 'image/jpeg');
  const cached = join(t.context.hearth.dataDir, 'thumbnails', mediaIdOf(mxc), '640x426-scale.jpg');
  t.false(existsSync(cached));
  const first = await fetchThumbnail(t, mxc, 'width=640&height=480&method=scale');
  t.is(first.status, 200);
  t.true(existsSync(cached), 'kept on disk under <data>/thumbnails/<media id>/');
  // Replace the file on disk: the next answer is that file, so it was not made again.
  const marker = await sharp({ create: { width: 640, height: 426, channels: 3, background: '#123456' } }).jpeg().toBuffer();
  writeFileSync(cached, marker);
  const second = await fetchThumbnail(t, mxc, 'width=600&height=400&method=scale');
  t.true(second.bytes.equals(marker), 'served from the file');
  // Across a restart too (the file is the cache, no index in memory).
  await t.context.hearth.restart();
  t.true((await fetchThumbnail(t, mxc, 'width=640&height=480')).bytes.equals(marker));

  const tiny = await sharp({ create: { width: 24, height: 24, channels: 3, background: '#ff8800' } }).png().toBuffer();
  const small = await upload(t, tiny, 'image/png');
  const own = await fetchThumbnail(t, small, 'width=96&height=96&method=crop');
  t.is(own.status, 200);
  t.true(own.bytes.equals(tiny), 'the original, never enlarged');
  t.is(own.headers.get('content-type'), 'image/png');
});

test.serial('a decompression bomb is refused with 413 M_TOO_LARGE, the original stays downloadable, the gateway keeps answering', async (t) => {
  const bomb = decompressionBomb();
  t.true(bomb.length < 200_000);
  t.like(await sharp(bomb, { limitInputPixels: false }).metadata(), { width: 30_000, height: 30_000 });
  const mxc = await upload(t, bomb, 'image/png');
  const refusals = await Promise.all(Array.from({ length: 4 }, () => fetchThumbnail(t, mxc, 'width=96&height=96&method=crop')));
  for (const refused of refusals) {
    t.is(refused.status, 413);
    const body = JSON.parse(refused.bytes.toString()) as { errcode: string; error: string };
    t.is(body.errcode, 'M_TOO_LARGE');
    t.regex(body.error, /30000 x 30000 pixels is more than this server's 33554432/);
  }
  t.false(existsSync(join(t.context.hearth.dataDir, 'thumbnails', mediaIdOf(mxc))));
  const metrics = await (await fetch(`${t.context.hearth.baseUrl}/metrics`)).text();
  t.regex(metrics, /^hearth_thumbnails_refused_total\{reason="too_large"\} 4$/m, 'counted in /metrics');
  const download = await fetch(`${t.context.hearth.baseUrl}/_matrix/client/v1/media/download/${mxc.slice('mxc://'.length)}`, { headers: { authorization: `Bearer ${t.context.alice.accessToken}` } });
  t.true(Buffer.from(await download.arrayBuffer()).equals(bomb));
  // Still answering, thumbnails included.
  const after = await upload(t, await (await bands(600, 600)).jpeg().toBuffer(), 'image/jpeg');
  t.like(await sharp((await fetchThumbnail(t, after, 'width=32&height=32&method=crop')).bytes).metadata(), { width: 32, height: 32 });
  t.is((await t.context.client.whoami()).user_id, t.context.alice.userId);
});

test.serial('bad queries are 400; content that is no image, lies about its type or is broken is 400 M_UNKNOWN', async (t) => {
  const mxc = await upload(t, await (await bands(300, 300)).jpeg().toBuffer(), 'image/jpeg');
  const expectations: Array<[string, string]> = [
    ['height=32', 'M_MISSING_PARAM'],
    ['width=32', 'M_MISSING_PARAM'],
    ['width=-32&height=32', 'M_INVALID_PARAM'],
    ['width=abc&height=32', 'M_INVALID_PARAM'],
    ['width=32.5&height=32', 'M_INVALID_PARAM'],
    ['width=32&height=32&method=zoom', 'M_INVALID_PARAM'],
    ['width=32&height=32&animated=yes', 'M_INVALID_PARAM'],
  ];
  for (const [query, errcode] of expectations) {
    const res = await fetchThumbnail(t, mxc, query);
    t.is(res.status, 400, query);
    t.is(JSON.parse(res.bytes.toString()).errcode, errcode, query);
  }
  const cases: Array<[Buffer, string, RegExp]> = [
    [Buffer.from('just some notes\n'), 'text/plain', /content of type text\/plain/],
    [Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="900" height="900"/>'), 'image/png', /not a JPEG, PNG, GIF or WebP image/],
    [(await (await bands(900, 600)).png().toBuffer()).subarray(0, 600), 'image/png', /Cannot generate a thumbnail/],
  ];
  for (const [bytes, type, message] of cases) {
    const res = await fetchThumbnail(t, await upload(t, bytes, type), 'width=96&height=96&method=crop');
    t.is(res.status, 400, type);
    const body = JSON.parse(res.bytes.toString()) as { errcode: string; error: string };
    t.is(body.errcode, 'M_UNKNOWN');
    t.regex(body.error, message);
  }
});

test.serial('the legacy /_matrix/media/v3/thumbnail path serves the same thumbnails without a token', async (t) => {
  const mxc = await upload(t, await (await bands(800, 800)).jpeg().toBuffer(), 'image/jpeg');
  const legacy = await fetchThumbnail(t, mxc, 'width=32&height=32&method=crop', undefined, '/_matrix/media/v3');
  t.is(legacy.status, 200);
  t.like(await sharp(legacy.bytes).metadata(), { format: 'jpeg', width: 32, height: 32 });
  const v1 = await fetchThumbnail(t, mxc, 'width=32&height=32&method=crop');
  t.true(v1.bytes.equals(legacy.bytes));
});

test.serial('another server asks for a thumbnail over federation: multipart, the thumbnail in its second part', async (t) => {
  const { hearth, peer } = t.context;
  const mxc = await upload(t, await (await bands(1200, 900)).jpeg().toBuffer(), 'image/jpeg');
  const answer = await signedFederationGet(peer, hearth, `/_matrix/federation/v1/media/thumbnail/${mediaIdOf(mxc)}?width=320&height=240&method=scale`, {});
  t.is(answer.status, 200, answer.raw.toString('utf8', 0, 300));
  t.regex(String(answer.headers['content-type']), /^multipart\/mixed; boundary=/);
  const parsed = parseMediaResponse(answer.raw);
  if (!('media' in parsed)) return t.fail('no media part');
  t.is(parsed.media.contentType, 'image/jpeg');
  t.like(await sharp(parsed.media.body).metadata(), { format: 'jpeg', width: 320, height: 240 });
  const bad = await signedFederationGet(peer, hearth, `/_matrix/federation/v1/media/thumbnail/${mediaIdOf(mxc)}?width=320`, {});
  t.is(bad.status, 400);
  t.is(JSON.parse(bad.raw.toString()).errcode, 'M_MISSING_PARAM');
});
