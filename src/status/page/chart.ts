/**
 * A sensor's history chart (uPlot): the range and resolution the admin picks, read from the data
 * API; raw readings as one line, 5-minute and hourly rollups as mean with min and max. At raw
 * resolution, live readings are appended as they arrive. The container carries `data-points` and
 * `data-resolution` (what is drawn), which the browser test reads.
 */
import uPlot from 'uplot';
import { call, STATUS_API, type HistoryAnswer, type Session } from './api.js';

const RANGES: [label: string, ms: number][] = [
  ['last hour', 3_600_000],
  ['last 6 hours', 6 * 3_600_000],
  ['last 24 hours', 86_400_000],
  ['last 7 days', 7 * 86_400_000],
  ['last 30 days', 30 * 86_400_000],
];
/** `auto`: raw up to 6 hours, 5-minute buckets up to 7 days, hourly beyond (docs/telemetry.md). */
const RESOLUTIONS: [label: string, value: string][] = [
  ['auto', 'auto'],
  ['every reading', 'raw'],
  ['5-minute', '5m'],
  ['hourly', '1h'],
];
const HEIGHT = 170;

export class SensorChart {
  readonly element: HTMLElement;
  private readonly plotBox: HTMLElement;
  private readonly note: HTMLElement;
  private readonly range: HTMLSelectElement;
  private readonly resolution: HTMLSelectElement;
  private plot: uPlot | undefined;
  private data: number[][] = [[], []];
  private drawn: 'raw' | '5m' | '1h' | undefined;
  private from = 0;
  private to = 0;
  private loading: AbortController | undefined;
  private readonly onResize = () => this.plot?.setSize({ width: this.width(), height: HEIGHT });

  constructor(
    private readonly session: Session,
    private readonly deviceKey: string,
    private readonly sensorKey: string,
    private readonly label: string,
  ) {
    this.element = document.createElement('div');
    this.element.className = 'chart-box';
    const controls = document.createElement('div');
    controls.className = 'controls';
    this.range = select(`Range of ${label}`, RANGES.map(([l, ms]) => [l, String(ms)]));
    this.resolution = select(`Resolution of ${label}`, RESOLUTIONS);
    this.range.addEventListener('change', () => void this.load());
    this.resolution.addEventListener('change', () => void this.load());
    controls.append(this.range, this.resolution);
    this.note = document.createElement('p');
    this.note.className = 'note';
    this.plotBox = document.createElement('div');
    this.plotBox.className = 'chart';
    this.element.append(controls, this.plotBox, this.note);
    window.addEventListener('resize', this.onResize);
  }

  async load(): Promise<void> {
    this.loading?.abort();
    const abort = (this.loading = new AbortController());
    const to = (this.to = Date.now());
    this.from = to - Number(this.range.value);
    const q = new URLSearchParams({ from: String(this.from), to: String(to), resolution: this.resolution.value });
    let h: HistoryAnswer;
    try {
      h = await call<HistoryAnswer>('GET', `${STATUS_API}/devices/${encodeURIComponent(this.deviceKey)}/sensors/${encodeURIComponent(this.sensorKey)}/history?${q}`, {
        token: this.session.accessToken,
        signal: abort.signal,
      });
    } catch (err) {
      if (!abort.signal.aborted) this.note.textContent = `History unavailable: ${(err as Error).message}`;
      return;
    }
    const xs = h.ts.map((t) => t / 1000);
    this.drawn = h.resolution;
    this.data = h.resolution === 'raw' ? [xs, h.value as number[]] : [xs, h.mean, h.min, h.max];
    const n = h.ts.length;
    this.note.textContent =
      `${n} ${h.resolution === 'raw' ? (n === 1 ? 'reading' : 'readings') : `${h.resolution === '5m' ? '5-minute' : 'hourly'} ${n === 1 ? 'bucket' : 'buckets'} (mean, min, max)`}` +
      (h.truncated ? ', the first 10,000 of the range: pick a shorter range or a rollup' : '');
    this.draw();
  }

  /** A live reading: drawn at once when the chart shows raw readings up to now. */
  append(ts: number, value: number | string | boolean | null): void {
    if (this.drawn !== 'raw' || value === null || typeof value === 'string' || ts < this.from) return;
    const xs = this.data[0]!;
    const x = ts / 1000;
    if (xs.length > 0 && x <= xs[xs.length - 1]!) return;
    xs.push(x);
    this.data[1]!.push(Number(value));
    this.draw();
  }

  destroy(): void {
    this.loading?.abort();
    window.removeEventListener('resize', this.onResize);
    this.plot?.destroy();
    this.plot = undefined;
    this.element.remove();
  }

  private draw(): void {
    this.element.dataset.points = String(this.data[0]!.length);
    this.element.dataset.resolution = this.drawn ?? '';
    const series = this.data.length;
    if (this.plot && this.plot.series.length === series) {
      this.plot.setData(this.data as uPlot.AlignedData);
      return;
    }
    this.plot?.destroy();
    const accent = getComputedStyle(document.documentElement).getPropertyValue('--accent').trim() || '#2459a8';
    const muted = getComputedStyle(document.documentElement).getPropertyValue('--muted').trim() || '#888';
    const opts: uPlot.Options = {
      width: this.width(),
      height: HEIGHT,
      legend: { show: false },
      cursor: { drag: { x: false, y: false } },
      // The chosen range, whatever the data covers (one reading would otherwise span years); live readings extend it.
      // (uPlot's own max is no help: for a single point it adds 86400 / ms, a thousand days in seconds.)
      scales: { x: { time: true, range: () => [this.from / 1000, Math.max(this.to / 1000, this.lastX())] } },
      axes: [
        { stroke: muted, grid: { stroke: 'rgba(128,128,128,0.15)' } },
        { stroke: muted, size: 48, grid: { stroke: 'rgba(128,128,128,0.15)' } },
      ],
      series:
        series === 2
          ? [{}, { label: this.label, stroke: accent, width: 1.5, points: { show: false } }]
          : [
              {},
              { label: 'mean', stroke: accent, width: 1.5 },
              { label: 'min', stroke: muted, width: 1, dash: [4, 4] },
              { label: 'max', stroke: muted, width: 1, dash: [4, 4] },
            ],
    };
    this.plot = new uPlot(opts, this.data as uPlot.AlignedData, this.plotBox);
  }

  /** The newest reading's time (s), 0 without any. */
  private lastX(): number {
    const xs = this.data[0]!;
    return xs.length > 0 ? xs[xs.length - 1]! : 0;
  }

  private width(): number {
    return Math.max(200, this.plotBox.clientWidth || this.element.clientWidth || 300);
  }
}

function select(label: string, options: [label: string, value: string][]): HTMLSelectElement {
  const s = document.createElement('select');
  s.setAttribute('aria-label', label);
  for (const [text, value] of options) s.append(new Option(text, value));
  return s;
}
