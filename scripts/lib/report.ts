/** The benchmark's result rows, printed as a Markdown table and written into docs/performance.md. */
import { readFileSync, writeFileSync } from 'node:fs';
import { formatNumber } from './stats.js';

export interface ResultRow {
  section: string;
  metric: string;
  unit: string;
  hearth: number;
  /** The baseline measured in the same run, when there is one. */
  baseline?: number;
  baselineName?: string;
  /** The target from the issue, as text (e.g. ">= 50% of bare"). */
  target?: string;
  digits?: number;
}

/**
 * A Synapse figure an issue quotes, for the Target column: context for the target, not a
 * measurement of this run (the Baseline column holds only what this run measured), so the text says
 * where it comes from.
 */
export function quotedFromIssue(issue: number, figure: string): string {
  return `${figure}, quoted from issue ${issue}, not measured in this run`;
}

export function markdownTable(rows: ResultRow[]): string {
  const lines = [
    '| Section | Metric | Hearth | Baseline (same run) | Hearth / baseline | Target |',
    '|---|---|---:|---:|---:|---|',
  ];
  for (const row of rows) {
    const digits = row.digits ?? 0;
    const baseline = row.baseline === undefined ? '' : `${formatNumber(row.baseline, digits)} ${row.unit} (${row.baselineName})`;
    const ratio = row.baseline === undefined ? '' : `${formatNumber((100 * row.hearth) / row.baseline, 1)}%`;
    lines.push(`| ${row.section} | ${row.metric} | ${formatNumber(row.hearth, digits)} ${row.unit} | ${baseline} | ${ratio} | ${row.target ?? ''} |`);
  }
  return lines.join('\n');
}

/**
 * Replaces a generated block of docs/performance.md (between `<!-- NAME:begin -->` and
 * `<!-- NAME:end -->`; `bench` by default, `bench-federation` for the federation section, so that
 * `--only federation --write` leaves the other figures alone) with this run's figures.
 */
export function writeIntoPerformanceDoc(path: string, rows: ResultRow[], command: string, machine: string, block = 'bench'): void {
  const begin = `<!-- ${block}:begin -->`;
  const end = `<!-- ${block}:end -->`;
  const doc = readFileSync(path, 'utf8');
  const start = doc.indexOf(begin);
  const stop = doc.indexOf(end);
  if (start < 0 || stop < start) throw new Error(`${path} has no ${begin} ... ${end} block`);
  const text = [
    begin,
    `Run on ${new Date().toISOString().slice(0, 10)} with \`${command}\` on ${machine}.`,
    '',
    markdownTable(rows),
    end,
  ].join('\n');
  writeFileSync(path, doc.slice(0, start) + text + doc.slice(stop + end.length));
}
