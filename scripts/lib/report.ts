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

const BEGIN = '<!-- bench:begin -->';
const END = '<!-- bench:end -->';

/** Replaces the generated block of docs/performance.md (between the markers) with this run's figures. */
export function writeIntoPerformanceDoc(path: string, rows: ResultRow[], command: string, machine: string): void {
  const doc = readFileSync(path, 'utf8');
  const start = doc.indexOf(BEGIN);
  const end = doc.indexOf(END);
  if (start < 0 || end < start) throw new Error(`${path} has no ${BEGIN} ... ${END} block`);
  const block = [
    BEGIN,
    `Run on ${new Date().toISOString().slice(0, 10)} with \`${command}\` on ${machine}.`,
    '',
    markdownTable(rows),
    END,
  ].join('\n');
  writeFileSync(path, doc.slice(0, start) + block + doc.slice(end + END.length));
}
