/** `telemetry.commit` in hearth.yaml (issue 14): the default, overrides, and refusals with clear errors. */
import test from 'ava';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/config.js';

function withYaml(t: { teardown(fn: () => void): void }, yaml: string | undefined): string {
  const dir = mkdtempSync(join(tmpdir(), 'hearth-config-commit-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  if (yaml !== undefined) writeFileSync(join(dir, 'hearth.yaml'), yaml);
  return dir;
}

test('the default (and the generated template) is adaptive with a 50 ms minimum interval', (t) => {
  const config = loadConfig({ dataDir: withYaml(t, undefined), env: {} });
  t.deepEqual(config.telemetry.commit, { mode: 'adaptive', minIntervalMs: 50 });
  t.is(config.telemetry.flushIntervalMs, 1000);
  const empty = loadConfig({ dataDir: withYaml(t, 'log_level: warn\n'), env: {} });
  t.deepEqual(empty.telemetry.commit, { mode: 'adaptive', minIntervalMs: 50 }, 'a file without the setting gets the default');
});

test('hearth.yaml and the environment set the mode and the minimum interval', (t) => {
  const dir = withYaml(t, 'telemetry:\n  commit:\n    mode: interval\n');
  t.deepEqual(loadConfig({ dataDir: dir, env: {} }).telemetry.commit, { mode: 'interval', minIntervalMs: 50 }, 'the interval keeps its default');
  const env = { HEARTH_TELEMETRY_COMMIT_MODE: 'adaptive', HEARTH_TELEMETRY_COMMIT_MIN_INTERVAL_MS: '0' };
  t.deepEqual(loadConfig({ dataDir: dir, env }).telemetry.commit, { mode: 'adaptive', minIntervalMs: 0 });
});

test('bad values are refused at start, naming the setting', (t) => {
  const refused = (yaml: string, message: RegExp) => t.throws(() => loadConfig({ dataDir: withYaml(t, yaml), env: {} }), { message });
  refused('telemetry:\n  commit:\n    mode: adaptve\n', /telemetry\.commit\.mode must be adaptive or interval, got "adaptve"/);
  refused('telemetry:\n  commit:\n    min_interval_ms: -1\n', /telemetry\.commit\.min_interval_ms must be a whole number/);
  refused('telemetry:\n  commit:\n    min_interval_ms: 2.5\n', /telemetry\.commit\.min_interval_ms/);
  refused('telemetry:\n  commit:\n    min_interval_ms: "50"\n', /telemetry\.commit\.min_interval_ms/);
  refused('telemetry:\n  flush_interval_ms: 100\n  commit:\n    min_interval_ms: 200\n', /from 0 to telemetry\.flush_interval_ms \(100\), got 200/);
  refused('telemetry:\n  commit: adaptive\n', /telemetry\.commit must be a map/);
  refused('telemetry:\n  flush_interval_ms: 0\n', /telemetry\.flush_interval_ms must be a whole number of milliseconds from 1/);
  t.throws(() => loadConfig({ dataDir: withYaml(t, undefined), env: { HEARTH_TELEMETRY_COMMIT_MODE: 'fast' } }), { message: /telemetry\.commit\.mode/ });
});
