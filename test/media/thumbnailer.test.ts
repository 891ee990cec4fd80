/**
 * The thumbnailer's bounds with the real image library (src/media/thumbnailer.ts): one job for a
 * thumbnail many ask for at once, a full queue refused with 429, the pixel limit from the header,
 * and a missing library refused clearly and logged once.
 */
import test from 'ava';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { MatrixError } from '../../src/core/errors.js';
import { ImageLibrary, type Sharp } from '../../src/media/image-library.js';
import { Thumbnailer } from '../../src/media/thumbnailer.js';

const record = (contentType: string) => ({ contentType, size: 0, uploader: '@a:test', createdAt: 0 });

function setup(t: import('ava').ExecutionContext, options: { maxJobs?: number; maxWaiting?: number; maxImagePixels?: number; load?: () => Promise<Sharp> } = {}) {
  const dataDir = mkdtempSync(join(tmpdir(), 'hearth-thumbs-'));
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }));
  mkdirSync(join(dataDir, 'media'));
  const logged: string[] = [];
  const log = { info: () => undefined, warn: (_obj: unknown, msg?: string) => void logged.push(msg ?? '') } as unknown as import('pino').Logger;
  // Counts decodes: every sharp() call that is not a header read.
  let renders = 0;
  const counting = (async () => {
    const real = options.load ? await options.load() : sharp;
    const wrapped = ((input: string, opts: { limitInputPixels?: number | false }) => {
      if (opts?.limitInputPixels !== false) renders++;
      return real(input, opts);
    }) as unknown as Sharp;
    Object.assign(wrapped, { cache: real.cache, concurrency: real.concurrency, versions: real.versions });
    return wrapped;
  });
  const thumbnailer = new Thumbnailer({
    dataDir,
    originalPath: (id) => join(dataDir, 'media', id),
    log,
    library: new ImageLibrary(log, { threadsPerImage: 1 }, counting),
    ...(options.maxJobs ? { maxJobs: options.maxJobs } : {}),
    ...(options.maxWaiting !== undefined ? { maxWaiting: options.maxWaiting } : {}),
    ...(options.maxImagePixels ? { maxImagePixels: options.maxImagePixels } : {}),
  });
  return { dataDir, thumbnailer, logged, renders: () => renders, put: (id: string, bytes: Buffer) => writeFileSync(join(dataDir, 'media', id), bytes) };
}

const photo = () => sharp({ create: { width: 2000, height: 1500, channels: 3, background: '#808000' } }).jpeg().toBuffer();

test('ten requests for the same thumbnail at once make it once', async (t) => {
  const { thumbnailer, put, renders } = setup(t);
  put('photo', await photo());
  const answers = await Promise.all(Array.from({ length: 10 }, () => thumbnailer.thumbnail('photo', record('image/jpeg'), { width: 96, height: 96, method: 'crop', animated: false })));
  t.is(new Set(answers.map((a) => a.path)).size, 1);
  t.is(renders(), 1);
  t.like(await sharp(answers[0]!.path).metadata(), { format: 'jpeg', width: 96, height: 96 });
  await thumbnailer.thumbnail('photo', record('image/jpeg'), { width: 90, height: 90, method: 'crop', animated: false });
  t.is(renders(), 1, 'a later request for the same thumbnail reads the file');
  t.is(thumbnailer.stats.made, 1);
});

test('beyond one job and one waiting, thumbnail requests are refused with 429 M_LIMIT_EXCEEDED and retry_after_ms', async (t) => {
  const { thumbnailer, put } = setup(t, { maxJobs: 1, maxWaiting: 1 });
  put('photo', await photo());
  // Five different thumbnails (different jobs): one runs, one waits, three are refused.
  const sizes = [[32, 32, 'crop'], [96, 96, 'crop'], [320, 240, 'scale'], [640, 480, 'scale'], [800, 600, 'scale']] as const;
  const results = await Promise.allSettled(sizes.map(([width, height, method]) => thumbnailer.thumbnail('photo', record('image/jpeg'), { width, height, method, animated: false })));
  const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason as MatrixError);
  t.is(results.filter((r) => r.status === 'fulfilled').length, 2);
  t.is(refused.length, 3);
  for (const err of refused) {
    t.is(err.status, 429);
    t.is(err.errcode, 'M_LIMIT_EXCEEDED');
    t.true((err.extra.retry_after_ms as number) >= 1000);
  }
  t.deepEqual(thumbnailer.depth, { running: 0, waiting: 0 });
  t.deepEqual(thumbnailer.stats, { made: 2, refused: { busy: 3, tooLarge: 0, unusable: 0 } });
  // Later, the same request succeeds.
  t.like(await thumbnailer.thumbnail('photo', record('image/jpeg'), { width: 800, height: 600, method: 'scale', animated: false }), { width: 800, height: 600 });
});

test('an image over the pixel limit is refused from its header, nothing decoded', async (t) => {
  const { thumbnailer, put, renders } = setup(t, { maxImagePixels: 1000 * 1000 });
  put('big', await sharp({ create: { width: 1001, height: 1000, channels: 3, background: '#000' } }).png().toBuffer());
  const err = await t.throwsAsync(thumbnailer.thumbnail('big', record('image/png'), { width: 32, height: 32, method: 'crop', animated: false }), { instanceOf: MatrixError });
  t.is(err?.status, 413);
  t.is((err as MatrixError).errcode, 'M_TOO_LARGE');
  t.regex(err!.message, /1001 x 1000 pixels/);
  t.is(renders(), 0);
});

test('without the image library thumbnails are refused with the reason, logged once; other content types are refused first', async (t) => {
  const { thumbnailer, put, logged } = setup(t, { load: () => Promise.reject(new Error("Cannot find module 'sharp'")) });
  put('photo', Buffer.from([0xff, 0xd8, 0xff]));
  for (let i = 0; i < 3; i++) {
    const err = await t.throwsAsync(thumbnailer.thumbnail('photo', record('image/jpeg'), { width: 32, height: 32, method: 'crop', animated: false }), { instanceOf: MatrixError });
    t.is(err?.status, 400);
    t.is((err as MatrixError).errcode, 'M_UNKNOWN');
    t.regex(err!.message, /cannot make thumbnails \(Cannot find module 'sharp'\); the original is still downloadable/);
  }
  t.is(logged.length, 1);
  const text = await t.throwsAsync(thumbnailer.thumbnail('photo', record('text/plain'), { width: 32, height: 32, method: 'crop', animated: false }), { instanceOf: MatrixError });
  t.regex(text!.message, /content of type text\/plain/);
});

test('a record whose file was removed by hand is 404 M_NOT_FOUND, as its download', async (t) => {
  const { thumbnailer } = setup(t);
  const err = await t.throwsAsync(thumbnailer.thumbnail('gone', record('image/jpeg'), { width: 32, height: 32, method: 'crop', animated: false }), { instanceOf: MatrixError });
  t.is(err?.status, 404);
  t.is((err as MatrixError).errcode, 'M_NOT_FOUND');
});
