/**
 * The hearth.yaml template (config/template.ts) names every setting the loader reads, and loads to
 * the defaults: what a first start and `hearth init` write is valid and complete.
 */
import test from 'ava';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultConfig, loadConfig } from '../../src/config/config.js';
import { DEFAULT_CONFIG_TEMPLATE, renderConfigTemplate } from '../../src/config/template.js';

/** Not settings of the file: the data directory is where the file is, the source is derived. */
const NOT_IN_FILE = new Set(['data_dir', 'server_name_source']);

function settingPaths(value: unknown, path: string[] = []): string[][] {
  return Object.entries(value as Record<string, unknown>).flatMap(([key, v]) => {
    const name = key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? settingPaths(v, [...path, name]) : [[...path, name]];
  });
}

test('every setting of the loader is in the template (as a value or a commented example)', (t) => {
  const missing = settingPaths(defaultConfig('/data'))
    .filter((path) => !NOT_IN_FILE.has(path.join('.')))
    .filter((path) => {
      const key = path[path.length - 1]!;
      return !new RegExp(`^[#\\s-]*${key}:|[{,] ${key}:`, 'm').test(DEFAULT_CONFIG_TEMPLATE);
    });
  t.deepEqual(missing.map((p) => p.join('.')), []);
});

test('the rendered template loads to the defaults, with the server name and shared secret filled in', (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'hearth-template-'));
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }));
  writeFileSync(join(dataDir, 'hearth.yaml'), renderConfigTemplate({ sharedSecret: 'f00d', serverName: '10.0.0.2:8448' }));
  const loaded = loadConfig({ dataDir, env: {} });
  t.is(loaded.serverName, '10.0.0.2:8448');
  t.is(loaded.serverNameSource, 'hearth.yaml');
  t.is(loaded.registration.sharedSecret, 'f00d');
  const defaults = defaultConfig(dataDir);
  const { serverName: _a, serverNameSource: _b, registration: r1, client: c1, ...rest } = loaded;
  const { serverName: _c, serverNameSource: _d, registration: r2, client: c2, ...restDefaults } = defaults;
  t.deepEqual(rest, restDefaults);
  t.deepEqual({ ...r1, sharedSecret: '' }, r2);
  t.deepEqual({ ...c1, publicBaseUrl: '' }, c2);
});
