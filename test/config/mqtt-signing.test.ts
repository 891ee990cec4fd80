/** `mqtt.signing` of hearth.yaml (docs/mqtt.md "Signed readings"): trust on first use, on by default, refused when malformed. */
import test from 'ava';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/config.js';

function withYaml(t: { teardown(fn: () => void): void }, yaml: string | undefined): string {
  const dir = mkdtempSync(join(tmpdir(), 'hearth-config-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  if (yaml !== undefined) writeFileSync(join(dir, 'hearth.yaml'), yaml);
  return dir;
}

test('trust on first use is on by default, spelt in the generated template, and can be turned off', (t) => {
  const fresh = withYaml(t, undefined);
  t.deepEqual(loadConfig({ dataDir: fresh, env: {} }).mqtt.signing, { trustOnFirstUse: true });
  t.regex(readFileSync(join(fresh, 'hearth.yaml'), 'utf8'), /\n {2}signing:\n {4}trust_on_first_use: true\n/);
  t.deepEqual(loadConfig({ dataDir: withYaml(t, ''), env: {} }).mqtt.signing, { trustOnFirstUse: true });
  t.false(loadConfig({ dataDir: withYaml(t, 'mqtt:\n  signing:\n    trust_on_first_use: false\n'), env: {} }).mqtt.signing.trustOnFirstUse);
});

test('a value that is not true or false stops the start with the setting named', (t) => {
  for (const bad of ['"yes"', '1', 'null']) {
    t.throws(() => loadConfig({ dataDir: withYaml(t, `mqtt:\n  signing:\n    trust_on_first_use: ${bad}\n`), env: {} }), { message: /mqtt\.signing\.trust_on_first_use must be true or false/ }, bad);
  }
  t.throws(() => loadConfig({ dataDir: withYaml(t, 'mqtt:\n  signing: off\n'), env: {} }), { message: /mqtt\.signing\.trust_on_first_use must be true or false/ });
});
