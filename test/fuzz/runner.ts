/**
 * The fuzz loop and its oracle, independent of any surface. A target (Client-Server API, MQTT, later
 * federation transactions) prepares its context against a running gateway, generates input `i` from
 * `rng.fork(i)` (so any input is replayed from seed and index alone), sends it and classifies the
 * outcome. The oracle: no 5xx, no hang (an answer within the bound), no connection torn by the
 * server, the process stays up, and after the run the target's ordinary client is still served.
 */
import { Prng } from './prng.js';

export type Verdict =
  | { ok: true; /** e.g. the HTTP status, for the histogram. */ label: string }
  | { ok: false; kind: 'server-error' | 'hang' | 'connection-error'; detail: string };

export interface FuzzTarget<I> {
  /** The surface: `client-server`, `mqtt`, (later) `federation`. */
  readonly name: string;
  /** Accounts, rooms, devices the inputs refer to. */
  setup(): Promise<void>;
  generate(rng: Prng): I;
  execute(input: I): Promise<Verdict>;
  /** Everything needed to send the input again by hand (route, body...), JSON-serialisable. */
  reproducer(input: I): Record<string, unknown>;
  /** An ordinary client's round trip; throws when the gateway no longer serves it. */
  healthCheck(): Promise<void>;
  close(): Promise<void>;
}

export interface Finding {
  target: string;
  seed: number;
  index: number;
  kind: string;
  detail: string;
  input: Record<string, unknown>;
}

export interface FuzzReport {
  seed: number;
  inputs: number;
  durationMs: number;
  /** Per target: how often each verdict label came back (`200`, `400`, `429`, `puback`...). */
  labels: Record<string, Record<string, number>>;
  findings: Finding[];
  /** Set when the process died: what was in flight then. */
  crash?: { detail: string; inFlight: Array<Record<string, unknown>> };
}

export interface FuzzRunOptions {
  seed: number;
  /** Total inputs, shared between the targets by `weights`. */
  count: number;
  concurrency: number;
  /** True while the gateway process runs. */
  alive: () => boolean;
  /** Findings kept in full (the rest are counted). */
  maxFindings?: number;
  /** Called every `progressEvery` inputs. */
  onProgress?: (done: number, report: FuzzReport) => void;
  progressEvery?: number;
  /** An ordinary client's round trip every this many inputs as well as at the end (0: only at the end). */
  healthEvery?: number;
}

interface Scheduled {
  target: FuzzTarget<unknown>;
  index: number;
}

export async function runFuzz(targets: Array<FuzzTarget<any>>, opts: FuzzRunOptions): Promise<FuzzReport> {
  const root = new Prng(opts.seed);
  const report: FuzzReport = { seed: opts.seed, inputs: 0, durationMs: 0, labels: {}, findings: [] };
  const maxFindings = opts.maxFindings ?? 50;
  const started = Date.now();
  for (const target of targets) {
    report.labels[target.name] = {};
    await target.setup();
  }

  let next = 0;
  const inFlight = new Map<number, Record<string, unknown>>();
  const record = (finding: Finding) => {
    if (report.findings.length < maxFindings) report.findings.push(finding);
    const counts = report.labels[finding.target]!;
    counts[finding.kind] = (counts[finding.kind] ?? 0) + 1;
  };

  const worker = async () => {
    while (next < opts.count && !report.crash) {
      const index = next++;
      const item: Scheduled = { target: targets[index % targets.length]!, index };
      const rng = root.fork(index);
      let input: unknown;
      try {
        input = item.target.generate(rng);
      } catch (err) {
        // A generator bug is the harness's, but it must say which input it was.
        throw new Error(`${item.target.name} could not generate input ${index} of seed ${opts.seed}: ${(err as Error).stack}`);
      }
      const repro = () => item.target.reproducer(input);
      inFlight.set(index, { target: item.target.name, index, ...repro() });
      let verdict: Verdict;
      try {
        verdict = await item.target.execute(input);
      } catch (err) {
        verdict = { ok: false, kind: 'connection-error', detail: `the harness threw: ${(err as Error).stack ?? err}` };
      }
      inFlight.delete(index);
      report.inputs++;
      if (!opts.alive()) {
        report.crash = { detail: `the gateway process exited during input ${index}`, inFlight: [{ target: item.target.name, index, ...repro() }, ...inFlight.values()] };
        return;
      }
      if (verdict.ok) {
        const counts = report.labels[item.target.name]!;
        counts[verdict.label] = (counts[verdict.label] ?? 0) + 1;
      } else {
        record({ target: item.target.name, seed: opts.seed, index, kind: verdict.kind, detail: verdict.detail, input: repro() });
      }
      if (opts.onProgress && opts.progressEvery && report.inputs % opts.progressEvery === 0) opts.onProgress(report.inputs, report);
      if (opts.healthEvery && report.inputs % opts.healthEvery === 0) await healthChecks(targets, report, opts);
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency }, worker));
  if (!report.crash) await healthChecks(targets, report, opts);
  for (const target of targets) await target.close();
  report.durationMs = Date.now() - started;
  return report;
}

async function healthChecks(targets: Array<FuzzTarget<unknown>>, report: FuzzReport, opts: FuzzRunOptions): Promise<void> {
  for (const target of targets) {
    try {
      await target.healthCheck();
    } catch (err) {
      const finding: Finding = { target: target.name, seed: opts.seed, index: -1, kind: 'unhealthy', detail: (err as Error).message, input: { after: report.inputs } };
      if (report.findings.length < (opts.maxFindings ?? 50)) report.findings.push(finding);
    }
  }
  if (!opts.alive()) report.crash ??= { detail: 'the gateway process exited', inFlight: [] };
}

/** A short human-readable account of a report (for test logs and the proof output). */
export function summarise(report: FuzzReport): string {
  const lines = [`seed ${report.seed}: ${report.inputs} inputs in ${(report.durationMs / 1000).toFixed(1)} s, ${report.findings.length} findings${report.crash ? ', CRASH' : ''}`];
  for (const [target, labels] of Object.entries(report.labels)) {
    const parts = Object.entries(labels).sort(([a], [b]) => a.localeCompare(b)).map(([label, n]) => `${label}: ${n}`);
    lines.push(`  ${target}: ${parts.join(', ')}`);
  }
  if (report.crash) lines.push(`  crash: ${report.crash.detail}\n${JSON.stringify(report.crash.inFlight, null, 1).slice(0, 4000)}`);
  for (const f of report.findings) lines.push(`  [${f.kind}] ${f.target} #${f.index}: ${f.detail.slice(0, 300)}\n    ${JSON.stringify(f.input).slice(0, 1500)}`);
  return lines.join('\n');
}
