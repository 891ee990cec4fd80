/**
 * `make bench --only thumbs` (issue 13, thumbnails): a fresh Hearth, a 4000 x 3000 JPEG photo
 * (12 Mpx of noise, so the decoder has real work), and against the baseline of downloading that
 * photo in the same run:
 *  - the first thumbnail after the start (loads libvips), then a new thumbnail of a fresh upload of
 *    the same photo, median of several (each decodes the photo; JPEG shrink-on-load makes it cheap),
 *    and the same thumbnail again, from the disk;
 *  - the five default sizes of a fresh upload asked for at once (they queue: one job at a time),
 *    against Synapse making its five for the same photo at upload (when the Synapse peer is built);
 *  - the gateway's peak RSS while thumbnails are made (VmHWM, reset after the uploads), and its RSS
 *    fresh, after the uploads and 5 s after the thumbnails;
 *  - a 30000 x 30000 PNG (110 KB) refused from its header.
 */
import { decompressionBomb } from '../../test/helpers/decompression-bomb.js';
import sharp from 'sharp';
import { setUpRoom } from './cs-workload.js';
import { JsonHttpClient } from './http-client.js';
import { peakRssBytes, resetPeakRss, rssBytes } from './proc.js';
import { startHearth, type HearthLaunch } from './processes.js';
import type { ResultRow } from './report.js';
import { startSynapse, synapseBuilt } from '../../test/integration/helpers/synapse.js';
import { percentile } from './stats.js';

const MB = 1024 * 1024;
const SECTION = 'Thumbnails';

async function timed<T>(work: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const start = performance.now();
  const value = await work();
  return { ms: performance.now() - start, value };
}

export async function thumbnails(launch: HearthLaunch, repetitions: number, log: (line: string) => void): Promise<ResultRow[]> {
  const photo = await sharp({ create: { width: 4000, height: 3000, channels: 3, background: '#808080', noise: { type: 'gaussian', mean: 128, sigma: 40 } } })
    .jpeg({ quality: 85 })
    .toBuffer();
  const bomb = decompressionBomb();
  const hearth = await startHearth(launch);
  try {
    const pid = hearth.server.pid;
    const client = new JsonHttpClient(hearth.clientUrl);
    const token = (await setUpRoom(client)).alice.token;
    client.close();
    await new Promise((done) => setTimeout(done, 2000));
    const rssFresh = rssBytes(pid);
    const auth = { authorization: `Bearer ${token}` };
    const upload = async (bytes: Buffer, type: string) => {
      const res = await fetch(`${hearth.clientUrl}/_matrix/media/v3/upload`, { method: 'POST', headers: { ...auth, 'content-type': type }, body: new Uint8Array(bytes) });
      if (res.status !== 200) throw new Error(`upload: ${res.status} ${await res.text()}`);
      return ((await res.json()) as { content_uri: string }).content_uri.slice('mxc://'.length);
    };
    const get = async (path: string, expected = 200) => {
      const res = await fetch(`${hearth.clientUrl}/_matrix/client/v1/media/${path}`, { headers: auth });
      const bytes = Buffer.from(await res.arrayBuffer());
      if (res.status !== expected) throw new Error(`${path}: ${res.status} ${bytes.toString('utf8', 0, 200)}`);
      return bytes;
    };
    const thumbnail = (id: string, query: string) => get(`thumbnail/${id}?${query}`);
    const SCALE = 'width=800&height=600&method=scale';

    const ids: string[] = [];
    for (let i = 0; i < 2 * repetitions + 1; i++) ids.push(await upload(photo, 'image/jpeg'));
    // Uploads stream to disk, but their buffers take a moment to be given back: settle first.
    await new Promise((done) => setTimeout(done, 5000));
    const rssBefore = rssBytes(pid);
    // The baseline is measured between the thumbnails (alternating), so load from other processes
    // on a shared machine falls on both alike; one download first, for the connection and caches.
    await get(`download/${ids[0]}`);
    const downloads: number[] = [];
    const download = async () => void downloads.push((await timed(() => get(`download/${ids[0]}`))).ms);

    // From here the peak is the thumbnails' (the library loaded by the first one included).
    const peakReset = resetPeakRss(pid);
    let sampledPeak = rssBytes(pid);
    const sampler = setInterval(() => (sampledPeak = Math.max(sampledPeak, rssBytes(pid))), 20);
    const first = await timed(() => thumbnail(ids[0]!, SCALE));
    const check = await sharp(first.value).metadata();
    if (check.width !== 800 || check.height !== 600 || check.format !== 'jpeg') throw new Error(`unexpected thumbnail ${check.format} ${check.width}x${check.height}`);
    const made: number[] = [];
    const crops: number[] = [];
    const cached: number[] = [];
    for (let i = 1; i <= repetitions; i++) {
      await download();
      made.push((await timed(() => thumbnail(ids[i]!, SCALE))).ms);
      crops.push((await timed(() => thumbnail(ids[i]!, 'width=96&height=96&method=crop'))).ms);
      for (let j = 0; j < 4; j++) cached.push((await timed(() => thumbnail(ids[0]!, SCALE))).ms);
    }
    const sizes = ['width=32&height=32&method=crop', 'width=96&height=96&method=crop', 'width=320&height=240&method=scale', 'width=640&height=480&method=scale', SCALE];
    const allAtOnce: number[] = [];
    for (let i = 0; i < repetitions; i++) allAtOnce.push((await timed(() => Promise.all(sizes.map((query) => thumbnail(ids[repetitions + 1 + i]!, query))))).ms);
    clearInterval(sampler);
    const peak = peakReset ? Math.max(peakRssBytes(pid), sampledPeak) : sampledPeak;

    const bombId = await upload(bomb, 'image/png');
    const refusals: number[] = [];
    for (let i = 0; i < repetitions; i++) refusals.push((await timed(() => get(`thumbnail/${bombId}?width=96&height=96&method=crop`, 413))).ms);
    await new Promise((done) => setTimeout(done, 5000));
    const rssAfter = rssBytes(pid);
    log(`thumbnails: photo ${(photo.length / MB).toFixed(1)} MB, bomb ${(bomb.length / 1024).toFixed(0)} KB`);

    await hearth.server.stop();
    const synapse = await synapseBaseline(photo, repetitions, log);
    const downloadMs = percentile(downloads, 50);
    const base = { section: SECTION, baselineName: `download of the photo (${(photo.length / MB).toFixed(1)} MB), median` };
    return [
      { ...base, metric: 'first thumbnail after start (800x600, loads libvips)', unit: 'ms', hearth: first.ms, baseline: downloadMs, digits: 0 },
      { ...base, metric: `800x600 scale of a 4000x3000 JPEG, made (median of ${repetitions})`, unit: 'ms', hearth: percentile(made, 50), baseline: downloadMs, digits: 0 },
      { ...base, metric: `96x96 crop of a 4000x3000 JPEG, made (median of ${repetitions})`, unit: 'ms', hearth: percentile(crops, 50), baseline: downloadMs, digits: 0 },
      { ...base, metric: 'the same 800x600 thumbnail again, from disk (median)', unit: 'ms', hearth: percentile(cached, 50), baseline: downloadMs, digits: 1 },
      synapse
        ? {
            section: SECTION,
            metric: `the five default sizes of a fresh upload asked at once (one job at a time; median of ${repetitions}) vs Synapse making its five at upload (its upload as image/jpeg minus as application/octet-stream, median of ${repetitions})`,
            unit: 'ms',
            hearth: percentile(allAtOnce, 50),
            baseline: synapse.thumbnailsMs,
            baselineName: 'Synapse 1.160 (Pillow)',
            digits: 0,
          }
        : { section: SECTION, metric: `the five default sizes of a fresh upload asked at once (one job at a time; median of ${repetitions}; no Synapse peer built for the baseline)`, unit: 'ms', hearth: percentile(allAtOnce, 50), digits: 0 },
      { section: SECTION, metric: `peak RSS while making them (${peakReset ? 'VmHWM' : 'sampled every 20 ms'})`, unit: 'MB', hearth: peak / MB, digits: 1, target: `fresh: ${(rssFresh / MB).toFixed(1)} MB; after ${ids.length} uploads of it: ${(rssBefore / MB).toFixed(1)} MB; 5 s after: ${(rssAfter / MB).toFixed(1)} MB` },
      { section: SECTION, metric: '30000x30000 PNG bomb refused (413, from its header; median)', unit: 'ms', hearth: percentile(refusals, 50), digits: 1 },
    ];
  } finally {
    await hearth.server.stop();
  }
}

/**
 * Synapse makes every thumbnail of an upload before answering it (`_generate_thumbnails` in
 * `create_or_update_content`): the same photo uploaded as `image/jpeg` and as
 * `application/octet-stream`, alternating, the difference of the medians is its thumbnail time.
 */
async function synapseBaseline(photo: Buffer, repetitions: number, log: (line: string) => void): Promise<{ thumbnailsMs: number } | undefined> {
  if (!synapseBuilt()) {
    log('thumbnails: no Synapse peer built (scripts/synapse-peer build): no Synapse baseline');
    return undefined;
  }
  const synapse = await startSynapse();
  try {
    const user = await synapse.registerUser('benchthumbs');
    const upload = async (type: string) =>
      timed(async () => {
        const res = await fetch(`${synapse.clientUrl}/_matrix/media/v3/upload`, { method: 'POST', headers: { authorization: `Bearer ${user.accessToken}`, 'content-type': type }, body: new Uint8Array(photo) });
        if (res.status !== 200) throw new Error(`Synapse upload: ${res.status} ${await res.text()}`);
      });
    await upload('application/octet-stream');
    await upload('image/jpeg');
    const plain: number[] = [];
    const image: number[] = [];
    for (let i = 0; i < repetitions; i++) {
      plain.push((await upload('application/octet-stream')).ms);
      image.push((await upload('image/jpeg')).ms);
    }
    log(`thumbnails: Synapse upload median ${percentile(plain, 50).toFixed(0)} ms as octet-stream, ${percentile(image, 50).toFixed(0)} ms as image/jpeg`);
    return { thumbnailsMs: percentile(image, 50) - percentile(plain, 50) };
  } finally {
    await synapse.stop();
  }
}

