/** `default_room_version` in hearth.yaml: the spec's 12 unless set, any supported version, nothing else. */
import test from 'ava';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/config.js';

function withConfig(yaml: string | undefined): () => ReturnType<typeof loadConfig> {
  const dataDir = mkdtempSync(join(tmpdir(), 'hearth-config-'));
  if (yaml !== undefined) writeFileSync(join(dataDir, 'hearth.yaml'), yaml);
  return () => {
    try {
      return loadConfig({ dataDir, env: {} });
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  };
}

test('the generated hearth.yaml leaves it at 12 and documents it', (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'hearth-config-'));
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }));
  t.is(loadConfig({ dataDir, env: {} }).defaultRoomVersion, '12');
  const written = readFileSync(join(dataDir, 'hearth.yaml'), 'utf8');
  t.regex(written, /^# default_room_version: "12"$/m);
  t.regex(written, /nheko 0\.11/);
});

test('any version 1-12, written as a string or a YAML number', (t) => {
  t.is(withConfig('default_room_version: "10"\n')().defaultRoomVersion, '10');
  t.is(withConfig('default_room_version: 1\n')().defaultRoomVersion, '1');
});

test('anything else stops the start, naming the setting', (t) => {
  for (const value of ['"13"', '"10.0"', '1.5', 'true', '[]', '"v11"']) {
    const error = t.throws(withConfig(`default_room_version: ${value}\n`));
    t.regex(error!.message, /^default_room_version must be one of 1, 2, .*12, got /, value);
  }
});
