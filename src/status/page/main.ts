/**
 * The status page (docs/status-page.md): plain TypeScript and DOM, built into the gateway by
 * src/status/page-build.ts. A server admin signs in with their Matrix account; the page then shows
 * the gateway panel (refreshed every 10 s) and follows the devices over the data API's long-poll,
 * updating values in place. Charts (chart.ts) open per sensor; commands go into the device's room
 * as `org.hearth.command`, as from any Matrix client.
 */
import { ApiError, call, loadSession, login, logout, saveSession, sendCommand, STATUS_API, type DeviceView, type DevicesAnswer, type GatewayView, type Session, type SensorView } from './api.js';
import { SensorChart } from './chart.js';
import * as fmt from './format.js';

const GATEWAY_REFRESH_MS = 10_000;
/** How long a devices long-poll may wait on the server. */
const LONG_POLL_MS = 30_000;
/**
 * At most one devices answer per this interval: under 200 readings a second every answer would
 * otherwise come back at once, so the page would poll as fast as the network allows.
 */
const MIN_POLL_INTERVAL_MS = 2_000;
const RETRY_MS = 5_000;

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

let session: Session | undefined;
/** Bumped at every sign-in and sign-out: loops of an earlier session stop. */
let generation = 0;
const cards = new Map<string, DeviceCard>();

function el<K extends keyof HTMLElementTagNameMap>(tag: K, className?: string, text?: string): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Resolves at once while the page is visible, else when it becomes visible again: a tab in the
 * background asks the gateway nothing (a Pi serving a forgotten tab a long-poll answer every two
 * seconds under 200 devices would spend CPU and radio on nobody).
 */
function whenVisible(): Promise<void> {
  if (!document.hidden) return Promise.resolve();
  return new Promise((resolve) => {
    const onChange = () => {
      if (document.hidden) return;
      document.removeEventListener('visibilitychange', onChange);
      resolve();
    };
    document.addEventListener('visibilitychange', onChange);
  });
}

// ---- signing in and out

function showLogin(message = ''): void {
  $('login-view').hidden = false;
  $('app-view').hidden = true;
  $('logout').hidden = true;
  $('who').textContent = '';
  $('login-error').textContent = message;
}

async function signOut(message = ''): Promise<void> {
  generation++;
  const s = session;
  session = undefined;
  saveSession(undefined);
  for (const card of cards.values()) card.destroy();
  cards.clear();
  $('devices').replaceChildren();
  showLogin(message);
  if (s) await logout(s);
}

$('login-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const user = $<HTMLInputElement>('login-user').value.trim();
  const password = $<HTMLInputElement>('login-password').value;
  const button = $('login-form').querySelector('button')!;
  button.disabled = true;
  $('login-error').textContent = '';
  login(user, password)
    .then((s) => {
      $<HTMLInputElement>('login-password').value = '';
      return start(s);
    })
    .catch((err: unknown) => ($('login-error').textContent = err instanceof ApiError && err.status === 403 ? 'Wrong user name or password.' : `Sign-in failed: ${(err as Error).message}`))
    .finally(() => (button.disabled = false));
});

$('logout').addEventListener('click', () => void signOut());

/** Admits the session when the data API does: anyone else is signed out again, with the reason. */
async function start(s: Session): Promise<void> {
  let gateway: GatewayView;
  try {
    gateway = await call<GatewayView>('GET', `${STATUS_API}/gateway`, { token: s.accessToken });
  } catch (err) {
    if (err instanceof ApiError && err.status === 403) {
      session = s;
      await signOut(`${s.userId} is not a server admin: the status page is for admins only.`);
      return;
    }
    if (err instanceof ApiError && err.status === 401) {
      saveSession(undefined);
      showLogin('Your session has ended: sign in again.');
      return;
    }
    throw err;
  }
  session = s;
  saveSession(s);
  const mine = ++generation;
  $('login-view').hidden = true;
  $('app-view').hidden = false;
  $('logout').hidden = false;
  $('who').textContent = s.userId;
  renderGateway(gateway);
  void gatewayLoop(mine);
  void devicesLoop(mine);
}

/** A 401 on the way: the token is gone (logged out elsewhere, user deactivated). */
function sessionEnded(err: unknown): boolean {
  if (err instanceof ApiError && (err.status === 401 || err.status === 403)) {
    void signOut(err.status === 401 ? 'Your session has ended: sign in again.' : 'This account is no longer a server admin.');
    return true;
  }
  return false;
}

// ---- the gateway panel

async function gatewayLoop(mine: number): Promise<void> {
  while (mine === generation) {
    await sleep(GATEWAY_REFRESH_MS);
    // Hidden meanwhile: refreshed as soon as the tab shows again.
    await whenVisible();
    if (mine !== generation) return;
    try {
      renderGateway(await call<GatewayView>('GET', `${STATUS_API}/gateway`, { token: session!.accessToken }));
    } catch (err) {
      if (sessionEnded(err)) return;
    }
    for (const card of cards.values()) card.refreshTimes();
  }
}

/** The hourly figures cover the last hour, or (shortly after the start, after a quiet spell) another span: say which. */
function over(windowSeconds: number): string {
  return windowSeconds < 3000 || windowSeconds > 4000 ? ` (over ${fmt.duration(windowSeconds)})` : '';
}

function renderGateway(g: GatewayView): void {
  const facts: [string, string][] = [
    ['Server', g.server_name],
    ['Version', g.version],
    ['Up', fmt.duration(g.uptime_seconds)],
    ['Memory (RSS)', fmt.bytes(g.rss_bytes)],
    ['Disk used', fmt.bytes(g.disk.used_bytes)],
    ['Disk free', g.disk.free_bytes === undefined ? 'n/a' : fmt.bytes(g.disk.free_bytes)],
    ['Written per hour', g.writes.bytes_per_hour === null ? 'n/a' : fmt.bytes(g.writes.bytes_per_hour) + over(g.writes.window_seconds)],
    ['Telemetry journal per hour', fmt.bytes(g.writes.telemetry_journal_bytes_per_hour) + over(g.writes.window_seconds)],
    ['MQTT clients', g.mqtt.clients === null ? 'external broker' : String(g.mqtt.clients)],
    ['MQTT messages/s', fmt.rate(g.mqtt.messages_per_second)],
    ['Readings/s', fmt.rate(g.readings_per_second)],
    ['Events/s', fmt.rate(g.events_per_second)],
    ['Clock', g.federation.clock_ok ? 'ok' : 'wrong: federation paused'],
  ];
  $('gateway-panel').replaceChildren(
    ...facts.map(([k, v]) => {
      const div = el('div');
      div.append(el('dt', undefined, k), el('dd', undefined, v));
      return div;
    }),
  );
  const peers = g.federation.peers;
  $('peers-empty').hidden = peers.length > 0;
  $('peers').hidden = peers.length === 0;
  $('peers').querySelector('tbody')!.replaceChildren(
    ...peers.map((p) => {
      const tr = el('tr');
      const state = p.reachable ? 'yes' : `no (${p.failures} failures${p.backing_off ? ', retrying' : ''})`;
      tr.append(el('td', undefined, p.server), el('td', p.reachable ? '' : 'error', state), el('td', undefined, String(p.queue_depth)), el('td', undefined, String(p.stream_lag)));
      return tr;
    }),
  );
}

// ---- devices

async function devicesLoop(mine: number): Promise<void> {
  let next: string | undefined;
  while (mine === generation) {
    // A long-poll already waiting answers as usual; the next is asked once the tab shows again, for
    // what changed meanwhile (`since`).
    await whenVisible();
    if (mine !== generation) return;
    const started = Date.now();
    try {
      const q = next === undefined ? '' : `?since=${encodeURIComponent(next)}&timeout=${LONG_POLL_MS}`;
      const answer = await call<DevicesAnswer>('GET', `${STATUS_API}/devices${q}`, { token: session!.accessToken });
      if (mine !== generation) return;
      applyDevices(answer);
      next = answer.next;
    } catch (err) {
      if (sessionEnded(err)) return;
      await sleep(err instanceof ApiError && err.status === 429 ? MIN_POLL_INTERVAL_MS : RETRY_MS);
      continue;
    }
    const wait = MIN_POLL_INTERVAL_MS - (Date.now() - started);
    if (wait > 0) await sleep(wait);
  }
}

function applyDevices(answer: DevicesAnswer): void {
  if (answer.full) {
    const present = new Set(answer.devices.map((d) => d.key));
    for (const [key, card] of cards) {
      if (present.has(key)) continue;
      card.destroy();
      cards.delete(key);
    }
  }
  for (const view of answer.devices) {
    const card = cards.get(view.key);
    if (card) card.update(view);
    else cards.set(view.key, new DeviceCard(view));
  }
  const ordered = [...cards.values()].sort((a, b) => a.view.name.localeCompare(b.view.name) || a.view.key.localeCompare(b.view.key));
  const box = $('devices');
  ordered.forEach((card, i) => {
    if (box.children[i] !== card.element) box.insertBefore(card.element, box.children[i] ?? null);
  });
  $('devices-empty').hidden = cards.size > 0;
}

class DeviceCard {
  readonly element = el('article', 'card device');
  private readonly title = el('h3');
  private readonly badge = el('span', 'badge');
  private readonly meta = el('p', 'meta');
  private readonly seen = el('p', 'meta');
  private readonly rows = new Map<string, SensorRow>();
  private readonly sensorsBox = el('div');

  constructor(public view: DeviceView) {
    this.element.dataset.device = view.key;
    const header = el('header');
    header.append(this.title, this.badge);
    this.element.append(header, this.meta, this.seen, this.sensorsBox);
    this.update(view);
  }

  update(view: DeviceView): void {
    this.view = view;
    this.title.textContent = view.name;
    const state = view.online === null ? 'unknown' : view.online ? 'online' : 'offline';
    this.badge.className = `badge ${state}`;
    this.badge.textContent = state;
    this.meta.textContent = [view.key, view.convention, view.model, view.manufacturer, view.area && `area ${view.area}`].filter(Boolean).join(' · ');
    const keys = new Set(view.sensors.map((s) => s.key));
    for (const [key, row] of this.rows) {
      if (keys.has(key)) continue;
      row.destroy();
      this.rows.delete(key);
    }
    for (const sensor of view.sensors) {
      const row = this.rows.get(sensor.key);
      if (row) row.update(sensor);
      else {
        const added = new SensorRow(this, sensor);
        this.rows.set(sensor.key, added);
        this.sensorsBox.append(added.element);
      }
    }
    this.refreshTimes();
  }

  refreshTimes(): void {
    this.seen.textContent = `Last seen: ${fmt.ago(this.view.last_seen)}`;
    for (const row of this.rows.values()) row.refreshTime();
  }

  destroy(): void {
    for (const row of this.rows.values()) row.destroy();
    this.element.remove();
  }
}

class SensorRow {
  readonly element = el('div', 'sensor');
  private readonly valueEl = el('span', 'value');
  private readonly when = el('span', 'when');
  private readonly chartButton = el('button', 'plain', 'Chart');
  private chart: SensorChart | undefined;

  constructor(
    private readonly card: DeviceCard,
    private sensor: SensorView,
  ) {
    this.element.dataset.sensor = sensor.key;
    this.valueEl.dataset.value = '';
    const row = el('div', 'row');
    row.append(el('span', 'name', sensor.name), this.valueEl);
    // Text has no chart; numbers and switches (as 0/1) do.
    if (sensor.kind !== 'string') {
      this.chartButton.type = 'button';
      this.chartButton.setAttribute('aria-expanded', 'false');
      this.chartButton.addEventListener('click', () => this.toggleChart());
      row.append(this.chartButton);
    }
    row.append(this.when);
    this.element.append(row);
    if (sensor.settable) this.element.append(this.commandControls());
    this.update(sensor);
  }

  update(sensor: SensorView): void {
    const changed = sensor.ts !== this.sensor.ts || sensor.value !== this.sensor.value;
    this.sensor = sensor;
    this.valueEl.textContent = fmt.value(sensor.value, sensor.unit);
    this.valueEl.dataset.value = sensor.value === null ? '' : String(sensor.value);
    this.refreshTime();
    if (changed && sensor.ts !== null) this.chart?.append(sensor.ts, sensor.value);
  }

  refreshTime(): void {
    this.when.textContent = this.sensor.ts === null ? '' : `read ${fmt.ago(this.sensor.ts)}`;
  }

  destroy(): void {
    this.chart?.destroy();
    this.element.remove();
  }

  private toggleChart(): void {
    if (this.chart) {
      this.chart.destroy();
      this.chart = undefined;
      this.chartButton.setAttribute('aria-expanded', 'false');
      return;
    }
    this.chart = new SensorChart(session!, this.card.view.key, this.sensor.key, this.sensor.name);
    this.element.append(this.chart.element);
    this.chartButton.setAttribute('aria-expanded', 'true');
    void this.chart.load();
  }

  /** On/off for a switch, a field for a number or text. */
  private commandControls(): HTMLElement {
    const box = el('div', 'command');
    const result = el('span', 'result');
    result.setAttribute('role', 'status');
    const send = (value: unknown, buttons: HTMLButtonElement[]) => {
      for (const b of buttons) b.disabled = true;
      result.textContent = 'sending...';
      sendCommand(session!, this.card.view, this.sensor, value)
        .then(() => (result.textContent = `sent ${fmt.value(value as never)}: the device's answer shows in its room`))
        .catch((err: unknown) => {
          if (!sessionEnded(err)) result.textContent = `not sent: ${(err as Error).message}`;
        })
        .finally(() => buttons.forEach((b) => (b.disabled = false)));
    };
    if (this.sensor.kind === 'boolean') {
      const on = el('button', undefined, 'On');
      const off = el('button', undefined, 'Off');
      on.type = off.type = 'button';
      on.addEventListener('click', () => send(true, [on, off]));
      off.addEventListener('click', () => send(false, [on, off]));
      box.append(on, off, result);
      return box;
    }
    const input = el('input');
    input.setAttribute('aria-label', `New value of ${this.sensor.name}`);
    if (this.sensor.kind === 'number') input.inputMode = 'decimal';
    const set = el('button', undefined, 'Set');
    set.type = 'button';
    set.addEventListener('click', () => {
      const raw = input.value.trim();
      if (raw === '') return;
      if (this.sensor.kind === 'number') {
        const n = Number(raw);
        if (!Number.isFinite(n)) {
          result.textContent = 'not a number';
          return;
        }
        // Event JSON carries integers only (canonical JSON): other numbers go as their text, which the bridge reads.
        send(Number.isSafeInteger(n) ? n : raw, [set]);
      } else {
        send(raw, [set]);
      }
    });
    box.append(input, set, result);
    return box;
  }
}

// ---- start

const saved = loadSession();
if (saved) void start(saved).catch(() => showLogin('The gateway did not answer: reload to try again.'));
else showLogin();
