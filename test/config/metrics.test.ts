/** The `metrics` settings of hearth.yaml: on for loopback by default, configurable, refused when malformed. */
import test from 'ava';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/config.js';

function withYaml(t: { teardown(fn: () => void): void }, yaml: string | undefined): string {
  const dir = mkdtempSync(join(tmpdir(), 'hearth-config-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  if (yaml !== undefined) writeFileSync(join(dir, 'hearth.yaml'), yaml);
  return dir;
}

test('on by default for loopback, and the generated template spells it', (t) => {
  const config = loadConfig({ dataDir: withYaml(t, undefined), env: {} });
  t.deepEqual(config.metrics, { enabled: true, allow: ['127.0.0.0/8', '::1/128'] });
  t.deepEqual(loadConfig({ dataDir: withYaml(t, ''), env: {} }).metrics, config.metrics, 'the defaults without the template');
});

test('hearth.yaml configures it, HEARTH_METRICS switches it', (t) => {
  const dir = withYaml(t, 'metrics:\n  allow: ["192.168.1.10", "::1"]\n');
  const config = loadConfig({ dataDir: dir, env: {} });
  t.deepEqual(config.metrics, { enabled: true, allow: ['192.168.1.10', '::1'] });
  t.false(loadConfig({ dataDir: dir, env: { HEARTH_METRICS: 'off' } }).metrics.enabled);
  t.false(loadConfig({ dataDir: withYaml(t, 'metrics:\n  enabled: false\n'), env: {} }).metrics.enabled);
  t.true(loadConfig({ dataDir: withYaml(t, 'metrics:\n  enabled: false\n'), env: { HEARTH_METRICS: 'on' } }).metrics.enabled);
  t.throws(() => loadConfig({ dataDir: dir, env: { HEARTH_METRICS: 'yes' } }), { message: /HEARTH_METRICS must be on or off/ });
});

test('malformed settings stop the start', (t) => {
  t.throws(() => loadConfig({ dataDir: withYaml(t, 'metrics:\n  enabled: "yes"\n'), env: {} }), { message: /metrics\.enabled must be true or false/ });
  t.throws(() => loadConfig({ dataDir: withYaml(t, 'metrics:\n  allow: 127.0.0.1\n'), env: {} }), { message: /metrics\.allow must be a list/ });
  t.throws(() => loadConfig({ dataDir: withYaml(t, 'metrics:\n  allow: ["lan"]\n'), env: {} }), { message: /metrics\.allow: "lan" is not an IP address/ });
});
