/**
 * Issue 14 "The status page", in a real browser: Debian's headless Chromium driven by playwright-core
 * against the real gateway. A non-admin is signed out again with the reason; an admin signs in
 * with their Matrix account, sees a device (mqtt.js publishing Home Assistant discovery as a device
 * made with `hearth device add`) appear, its value change without a reload, its chart draw (a canvas
 * with the readings, pixels drawn, a live reading appended), sends a command that arrives on MQTT,
 * and the page fits a phone's width. Screenshots go to a temporary directory (logged).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import mqtt from 'mqtt';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { startMqttGateway, type MqttGateway } from './mqtt-helpers/gateway.js';
import { announceClimateDevice } from './mqtt-helpers/climate-device.js';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const DEVICE_KEY = 'ha.page-climate';
const WAIT = { timeout: 30_000 };

let gateway: MqttGateway;
let context: BrowserContext;
let page: Page;
let device: mqtt.MqttClient;
let profileDir: string;
const screenshotDir = mkdtempSync(join(tmpdir(), 'hearth-status-page-'));
const browserLog: string[] = [];

test.before(async () => {
  gateway = await startMqttGateway();
  await gateway.addUser('admin', 'admin password', { admin: true });
  await gateway.addUser('neighbour', 'neighbour password');
  const credentials = await gateway.addDevice('page-climate');
  device = await mqtt.connectAsync(`mqtt://127.0.0.1:${gateway.server.mqttPort}`, {
    username: credentials.username,
    password: credentials.password,
    clientId: 'page-climate',
    reconnectPeriod: 0,
  });
  profileDir = mkdtempSync(join(tmpdir(), 'hearth-chromium-'));
  context = await chromium.launchPersistentContext(profileDir, { executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true, viewport: { width: 1200, height: 900 } });
  page = context.pages()[0] ?? (await context.newPage());
  page.on('console', (m) => browserLog.push(`console.${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => browserLog.push(`pageerror: ${e.message}`));
});

test.afterEach.always((t) => {
  if (!t.passed) t.log(gateway.server.output(), browserLog);
});

test.after.always(async () => {
  await context?.close();
  await device?.endAsync();
  await gateway?.stop();
  if (profileDir) rmSync(profileDir, { recursive: true, force: true });
});

async function signIn(user: string, password: string): Promise<void> {
  await page.locator('#login-user').fill(user);
  await page.locator('#login-password').fill(password);
  await page.locator('#login-form button[type=submit]').click();
}

const sensorValue = (sensor: string) => page.locator(`[data-device="${DEVICE_KEY}"] [data-sensor="${sensor}"] .value`);

test.serial('the page loads from the gateway alone and asks for a sign-in', async (t) => {
  const requests: string[] = [];
  page.on('request', (r) => requests.push(r.url()));
  const res = await page.goto(`${gateway.server.baseUrl}/`);
  t.is(res?.status(), 200);
  await page.locator('#login-form').waitFor(WAIT);
  t.true(await page.locator('#app-view').isHidden());
  t.true(requests.length >= 3, 'the HTML, its script and stylesheet');
  t.deepEqual(requests.filter((u) => !u.startsWith(gateway.server.baseUrl)), [], 'nothing from elsewhere (no CDN)');
  t.deepEqual(browserLog.filter((l) => l.startsWith('pageerror')), []);
});

test.serial('a non-admin is refused: signed out again with the reason, nothing shown', async (t) => {
  await signIn('neighbour', 'neighbour password');
  await page.locator('#login-error', { hasText: 'not a server admin' }).waitFor(WAIT);
  t.regex(await page.locator('#login-error').innerText(), /@neighbour:.* is not a server admin/);
  t.true(await page.locator('#app-view').isHidden());
  t.is(await page.evaluate(() => sessionStorage.length), 0, 'no token kept');
  t.is(await page.locator('[data-device]').count(), 0);
});

test.serial('an admin signs in and sees a device appear, its value change and its chart draw; a command reaches the device', async (t) => {
  // The non-admin's refusal (a 403 from the data API) is in the log: only what follows counts here.
  browserLog.length = 0;
  await signIn('admin', 'admin password');
  await page.locator('#app-view').waitFor({ state: 'visible', ...WAIT });
  t.regex(await page.locator('#who').innerText(), /^@admin:/);
  await page.locator('#gateway-panel', { hasText: gateway.server.serverName }).waitFor(WAIT);
  t.is(await page.evaluate(() => sessionStorage.length), 1, 'the token is kept by the page for the tab');
  // Marks this document: a reload would lose it.
  await page.evaluate(() => ((window as unknown as { notReloaded: boolean }).notReloaded = true));

  // The device appears.
  await announceClimateDevice(device, 'page-climate', 'Page climate', 'pc');
  const card = page.locator(`[data-device="${DEVICE_KEY}"]`);
  await card.waitFor(WAIT);
  await page.locator(`[data-device="${DEVICE_KEY}"] .badge.online`).waitFor(WAIT);
  await page.locator(`[data-device="${DEVICE_KEY}"] [data-sensor="temperature"] .value[data-value="21.5"]`).waitFor(WAIT);
  t.is(await sensorValue('temperature').innerText(), '21.5 °C');
  t.regex(await card.innerText(), /Page climate/);
  t.regex(await card.innerText(), /ESP32 BME280/);

  // Its value changes, without a reload.
  await device.publishAsync('page-climate/temperature', '22.75', { qos: 1 });
  await page.locator(`[data-device="${DEVICE_KEY}"] [data-sensor="temperature"] .value[data-value="22.75"]`).waitFor(WAIT);
  t.true(await page.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded === true), 'the same document');

  // Its chart draws: a canvas with both readings, pixels drawn on it.
  await page.locator(`[data-device="${DEVICE_KEY}"] [data-sensor="temperature"] button`, { hasText: 'Chart' }).click();
  const chart = page.locator(`[data-device="${DEVICE_KEY}"] [data-sensor="temperature"] .chart-box`);
  await page.locator(`[data-device="${DEVICE_KEY}"] [data-sensor="temperature"] .chart-box[data-points="2"] canvas`).waitFor(WAIT);
  t.is(await chart.getAttribute('data-resolution'), 'raw');
  const painted = await chart.locator('canvas').evaluate((canvas: HTMLCanvasElement) => {
    const ctx = canvas.getContext('2d')!;
    const { data } = ctx.getImageData(0, 0, canvas.width, canvas.height);
    let n = 0;
    for (let i = 3; i < data.length; i += 4) if (data[i]! > 0) n++;
    return { n, width: canvas.width, height: canvas.height };
  });
  t.true(painted.width > 100 && painted.height > 100, `canvas ${painted.width}x${painted.height}`);
  t.true(painted.n > 500, `${painted.n} pixels drawn (axes, grid and the line)`);
  // A live reading is appended to the open chart.
  await device.publishAsync('page-climate/temperature', '23.5', { qos: 1 });
  await page.locator(`[data-device="${DEVICE_KEY}"] [data-sensor="temperature"] .chart-box[data-points="3"]`).waitFor(WAIT);
  // Another range at a rollup resolution: hourly buckets of the same readings.
  await chart.locator('select').nth(1).selectOption('1h');
  await page.locator(`[data-device="${DEVICE_KEY}"] [data-sensor="temperature"] .chart-box[data-resolution="1h"]`).waitFor(WAIT);
  t.true(Number(await chart.getAttribute('data-points')) >= 1);

  // A command from the page arrives on the device's command topic.
  const commands: { topic: string; payload: string; retain: boolean }[] = [];
  device.on('message', (topic, payload, packet) => commands.push({ topic, payload: payload.toString(), retain: packet.retain }));
  await device.subscribeAsync('page-climate/relay/set', { qos: 1 });
  await page.locator(`[data-device="${DEVICE_KEY}"] [data-sensor="relay"] button`, { hasText: 'On' }).click();
  await page.locator(`[data-device="${DEVICE_KEY}"] [data-sensor="relay"] .result`, { hasText: 'sent' }).waitFor(WAIT);
  for (let i = 0; i < 300 && commands.length === 0; i++) await new Promise((r) => setTimeout(r, 100));
  t.deepEqual(commands, [{ topic: 'page-climate/relay/set', payload: 'ON', retain: false }]);
  // The device switches and reports it: the page shows the new state.
  await device.publishAsync('page-climate/relay', 'ON', { qos: 1 });
  await page.locator(`[data-device="${DEVICE_KEY}"] [data-sensor="relay"] .value[data-value="true"]`).waitFor(WAIT);

  const desktop = join(screenshotDir, 'status-page.png');
  await page.screenshot({ path: desktop, fullPage: true });
  t.log(`screenshot: ${desktop}`);
  t.deepEqual(browserLog.filter((l) => l.startsWith('pageerror') || l.startsWith('console.error')), []);
});

/** What the browser says when the tab goes to the background or comes back. */
async function setTabHidden(hidden: boolean): Promise<void> {
  // A script as text: functions passed to the browser must not carry the test runner's helpers.
  await page.evaluate(`{
    const hidden = ${hidden};
    Object.defineProperty(document, 'hidden', { configurable: true, get() { return hidden; } });
    Object.defineProperty(document, 'visibilityState', { configurable: true, get() { return hidden ? 'hidden' : 'visible'; } });
    document.dispatchEvent(new Event('visibilitychange'));
  }`);
}

test.serial('a tab in the background asks the gateway nothing; shown again, it catches up', async (t) => {
  const devicePolls: string[] = [];
  const onRequest = (r: { url(): string }) => {
    if (r.url().includes('/_hearth/status/v1/devices')) devicePolls.push(r.url());
  };
  await setTabHidden(true);
  page.on('request', onRequest);
  try {
    // A long-poll already waiting may answer this; no new one is asked while hidden, although the
    // page asks again at most 2 s after an answer when it is shown.
    await device.publishAsync('page-climate/temperature', '24.25', { qos: 1 });
    await new Promise((r) => setTimeout(r, 5000));
    t.deepEqual(devicePolls, [], 'no devices long-poll started while the tab was hidden');
    await setTabHidden(false);
    await page.locator(`[data-device="${DEVICE_KEY}"] [data-sensor="temperature"] .value[data-value="24.25"]`).waitFor(WAIT);
    t.true(devicePolls.length >= 1, 'shown again, the page asked for what changed');
    t.regex(devicePolls[0]!, /[?&]since=/, 'for the changes since its last answer, not everything again');
  } finally {
    page.off('request', onRequest);
    await setTabHidden(false);
  }
});

test.serial('on a phone screen the page fits its width', async (t) => {
  await page.setViewportSize({ width: 390, height: 844 });
  await page.waitForFunction(() => document.documentElement.scrollWidth <= 390, undefined, WAIT);
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  // The chart followed the new width (uPlot draws at a fixed size; the page resizes it).
  const canvasWidth = await page.locator(`[data-device="${DEVICE_KEY}"] .chart-box canvas`).evaluate((c: HTMLCanvasElement) => c.getBoundingClientRect().width);
  t.true(canvasWidth <= 390, `chart width ${canvasWidth}`);
  t.true(width <= 390, `page width ${width}`);
  const phone = join(screenshotDir, 'status-page-phone.png');
  await page.screenshot({ path: phone, fullPage: true });
  t.log(`screenshot: ${phone}`);
});
