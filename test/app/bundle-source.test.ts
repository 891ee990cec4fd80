/**
 * scripts/build.ts keeps the bundle's source one byte per character in V8 (Latin-1 only): a single
 * character above U+00FF in a comment doubled the 1 MB script's size on the heap. And it splits the
 * bundle so that `hearth run` does not load the packages of paths it does not take.
 */
import test from 'ava';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { buildBundle, latin1Only } from '../../scripts/build.js';

test('characters above Latin-1 become one ASCII character each, so columns stay true', (t) => {
  const source = '/** `str type ‖ str state_key` → short… */\nconst a = "caf\\u00e9";';
  const out = latin1Only(source);
  t.is(out, '/** `str type | str state_key` > short. */\nconst a = "caf\\u00e9";');
  t.is(out.length, source.length);
  t.false(/[^\u0000-\u00ff]/.test(out));
});

test('a character outside the map, astral ones included, is replaced unit for unit', (t) => {
  const source = '// ✓ done 😀\nx();';
  const out = latin1Only(source);
  t.is(out, '// ? done ??\nx();');
  t.is(out.length, source.length);
});

test('Latin-1 itself is left alone', (t) => {
  t.is(latin1Only('// café × 2\n'), '// café × 2\n');
});

/** Packages a module file imports statically, and the files it imports statically (resolved). */
function staticImports(file: string): { packages: string[]; files: string[] } {
  const source = readFileSync(file, 'utf8');
  const specifiers = [...source.matchAll(/\bfrom\s*"([^"]+)"|\bimport\s*"([^"]+)"/g)].map((m) => m[1] ?? m[2]!);
  return {
    packages: specifiers.filter((s) => !s.startsWith('.')),
    files: specifiers.filter((s) => s.startsWith('.')).map((s) => join(dirname(file), s)),
  };
}

function staticClosure(entries: string[]): Set<string> {
  const packages = new Set<string>();
  const seen = new Set<string>();
  const queue = [...entries];
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    const found = staticImports(file);
    for (const p of found.packages) packages.add(p);
    queue.push(...found.files);
  }
  return packages;
}

test('`hearth run` loads only what its path imports: a dynamic import is a chunk of its own', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hearth-bundle-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const entry = await buildBundle(dir);
  const chunkOf = (source: string, name: string) => {
    const m = new RegExp(`import\\("(\\./(?:chunks/)?${name}-[A-Z0-9]+\\.mjs)"\\)`).exec(source);
    if (!m) throw new Error(`no dynamic import of the ${name} chunk`);
    return m[1]!;
  };
  const run = join(dir, chunkOf(readFileSync(entry, 'utf8'), 'run'));
  const loadedByRun = staticClosure([entry, run]);
  t.true(loadedByRun.has('fastify') && loadedByRun.has('aedes') && loadedByRun.has('level'), [...loadedByRun].join(' '));
  // The MQTT client library is for `mqtt.mode: external` and `hearth doctor` only.
  t.false(loadedByRun.has('mqtt'), [...loadedByRun].join(' '));
  const external = join(dirname(run), chunkOf(readFileSync(run, 'utf8'), 'external'));
  t.true(staticClosure([external]).has('mqtt'));
  for (const file of readdirSync(join(dir, 'chunks')).filter((f) => f.endsWith('.mjs'))) {
    t.false(/[^\u0000-\u00ff]/.test(readFileSync(join(dir, 'chunks', file), 'utf8')), file);
  }
});
