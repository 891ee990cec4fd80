/**
 * The status page's figures (docs/performance.md "Status page"), in one run against its own
 * baseline: the gateway as `make run` starts it (dist/hearth.mjs, the Makefile's node flags and
 * allocator), a simulated house of sensors (devices/simulators, Home Assistant, 1 reading/s each),
 * and Debian's headless chromium through playwright-core.
 *
 *  1. bytes of the first load: the page's files, then from sign-in until the devices are shown;
 *  2. bytes per minute while open (the gateway panel's refresh and the devices long-poll, one chart
 *     open), over `--minutes`, and the bytes of a reload (the script and stylesheet cached);
 *  3. the gateway's RSS while the page is closed and open, alternating (closed, then `--cycles`
 *     times open and closed: the browser goes to about:blank in between, so the gateway has no page
 *     connection): the median of 1 Hz samples over each phase (`--phase-seconds`), after a warm-up
 *     (default 330 s: past the first telemetry checkpoint, whose buffered readings grow RSS before it).
 *
 * Bytes are what the browser received: compressed bodies plus response headers (playwright's
 * `request.sizes()`), and what it sent (request headers and bodies).
 *
 *   npx tsx scripts/status-page-figures.ts [--devices 20] [--minutes 2] [--phase-seconds 90] [--cycles 2] [--warmup-seconds 330]
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { chromium, type Page, type Request } from 'playwright-core';
import { CONVENTIONS } from '../devices/agent/conventions/index.js';
import { Fleet } from '../devices/simulators/fleet.js';
import { buildBundle } from './build.js';
import { rssBytes } from './lib/proc.js';
import { addHearthDevices, startHearth, type HearthInstance } from './lib/processes.js';

const ROOT = resolve(import.meta.dirname, '..');
const { values: args } = parseArgs({
  options: {
    devices: { type: 'string', default: '20' },
    minutes: { type: 'string', default: '2' },
    'phase-seconds': { type: 'string', default: '90' },
    'warmup-seconds': { type: 'string', default: '330' },
    cycles: { type: 'string', default: '2' },
  },
});
const DEVICES = Number(args.devices);
const MINUTES = Number(args.minutes);
const PHASE_SECONDS = Number(args['phase-seconds']);
const WARMUP_SECONDS = Number(args['warmup-seconds']);
const CYCLES = Number(args.cycles);
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const ADMIN_PASSWORD = 'status-figures-admin';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const kb = (n: number) => `${(n / 1000).toFixed(1)} KB`;
const mb = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MB`;
const log = (line: string) => process.stderr.write(`${line}\n`);

/** Bytes of finished requests, both ways, as the browser counted them. */
class ByteCounter {
  total = 0;
  requests = 0;
  constructor(page: Page) {
    page.on('requestfinished', (r) => void this.add(r));
  }
  private async add(r: Request): Promise<void> {
    const s = await r.sizes().catch(() => undefined);
    if (!s) return;
    this.total += s.requestHeadersSize + s.requestBodySize + s.responseHeadersSize + s.responseBodySize;
    this.requests++;
  }
  /** Lets `requestfinished` handlers that are still reading sizes land. */
  async settle(): Promise<void> {
    await sleep(500);
  }
}

async function medianRss(pid: number, seconds: number): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i < seconds; i++) {
    await sleep(1000);
    samples.push(rssBytes(pid));
  }
  samples.sort((a, b) => a - b);
  return samples[Math.floor(samples.length / 2)]!;
}

async function addAdmin(hearth: HearthInstance): Promise<void> {
  await promisify(execFile)(process.execPath, [...hearth.cli, 'user', 'add', 'admin', '--admin', '--password', ADMIN_PASSWORD], {
    cwd: ROOT,
    env: { ...process.env, ...hearth.env },
  });
}

async function main(): Promise<void> {
  log('building dist/hearth.mjs');
  await buildBundle();
  const hearth = await startHearth({ build: 'bundle' });
  const pid = hearth.server.pid;
  const queueRoot = mkdtempSync(join(tmpdir(), 'hearth-status-fleet-'));
  const profile = mkdtempSync(join(tmpdir(), 'hearth-status-chromium-'));
  let fleet: Fleet | undefined;
  try {
    await addAdmin(hearth);
    const ids = Array.from({ length: DEVICES }, (_, i) => `sim-${i}`);
    const creds = await addHearthDevices(hearth, ids);
    fleet = new Fleet({
      brokerUrl: hearth.mqttUrl,
      convention: CONVENTIONS.homeassistant,
      count: DEVICES,
      rateHz: 1,
      idPrefix: 'sim-',
      queueRoot,
      credentials: (id) => creds.get(id),
    });
    await fleet.start(60_000);
    fleet.startSampling();
    log(`${DEVICES} devices at 1 Hz; warming up ${WARMUP_SECONDS} s`);
    await sleep(WARMUP_SECONDS * 1000);

    const closedRss: number[] = [];
    const openRss: number[] = [];
    log(`RSS, page closed (${PHASE_SECONDS} s)`);
    closedRss.push(await medianRss(pid, PHASE_SECONDS));

    const context = await chromium.launchPersistentContext(profile, { executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS, headless: true, viewport: { width: 1200, height: 900 } });
    const page = context.pages()[0] ?? (await context.newPage());
    const counter = new ByteCounter(page);
    await page.goto(`${hearth.clientUrl}/`);
    await page.locator('#login-form').waitFor();
    await counter.settle();
    const pageFiles = { bytes: counter.total, requests: counter.requests };
    await page.locator('#login-user').fill('admin');
    await page.locator('#login-password').fill(ADMIN_PASSWORD);
    await page.locator('#login-form button[type=submit]').click();
    await page.waitForFunction((n) => document.querySelectorAll('[data-device]').length >= n, DEVICES, { timeout: 60_000 });
    await counter.settle();
    const firstLoad = { bytes: counter.total, requests: counter.requests };
    // One chart open, as an admin looking at a sensor would.
    await page.locator('[data-device] [data-sensor] button', { hasText: 'Chart' }).first().click();
    await page.locator('.chart-box canvas').first().waitFor();

    log(`bytes while open (${MINUTES} min)`);
    const openStart = { bytes: counter.total, requests: counter.requests };
    await sleep(MINUTES * 60 * 1000);
    await counter.settle();
    const perMinute = (counter.total - openStart.bytes) / MINUTES;
    const requestsPerMinute = (counter.requests - openStart.requests) / MINUTES;

    const beforeReload = { bytes: counter.total, requests: counter.requests };
    await page.reload();
    await page.waitForFunction((n) => document.querySelectorAll('[data-device]').length >= n, DEVICES, { timeout: 60_000 });
    await counter.settle();
    const reload = { bytes: counter.total - beforeReload.bytes, requests: counter.requests - beforeReload.requests };

    for (let cycle = 1; cycle <= CYCLES; cycle++) {
      if (cycle > 1) {
        // The tab comes back: the session is in sessionStorage, the files in the cache.
        await page.goto(`${hearth.clientUrl}/`);
        await page.waitForFunction((n) => document.querySelectorAll('[data-device]').length >= n, DEVICES, { timeout: 60_000 });
        await page.locator('[data-device] [data-sensor] button', { hasText: 'Chart' }).first().click();
      }
      log(`RSS, page open (${PHASE_SECONDS} s)`);
      openRss.push(await medianRss(pid, PHASE_SECONDS));
      await page.goto('about:blank');
      log(`RSS, page closed (${PHASE_SECONDS} s)`);
      closedRss.push(await medianRss(pid, PHASE_SECONDS));
    }
    await context.close();
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    // Each open phase against the closed phases either side of it.
    const deltas = openRss.map((o, i) => o - (closedRss[i]! + closedRss[i + 1]!) / 2);
    const stats = fleet.stats();

    const lines = [
      `status page, ${DEVICES} simulated devices at 1 Hz (${stats.acknowledged} readings acknowledged), dist/hearth.mjs`,
      `page files (HTML, script, stylesheet):     ${kb(pageFiles.bytes)} in ${pageFiles.requests} requests`,
      `first load, to the devices shown (total):  ${kb(firstLoad.bytes)} in ${firstLoad.requests} requests`,
      `per minute while open (one chart open):    ${kb(perMinute)} in ${requestsPerMinute.toFixed(1)} requests`,
      `a reload (script and stylesheet cached):   ${kb(reload.bytes)} in ${reload.requests} requests`,
      `gateway RSS, page closed (each phase):     ${closedRss.map(mb).join(', ')}`,
      `gateway RSS, page open (each phase):       ${openRss.map(mb).join(', ')}`,
      `open minus closed either side:             ${deltas.map((d) => `${d >= 0 ? '+' : ''}${(d / 1024 / 1024).toFixed(1)} MB`).join(', ')}; mean ${(mean(deltas) / 1024 / 1024).toFixed(1)} MB (target <= +3 MB)`,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    await fleet?.stop();
    await hearth.server.kill('SIGTERM');
    rmSync(hearth.dataDir, { recursive: true, force: true });
    rmSync(queueRoot, { recursive: true, force: true });
    rmSync(profile, { recursive: true, force: true });
  }
}

await main();
