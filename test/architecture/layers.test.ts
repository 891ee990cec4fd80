/**
 * The layering rules of docs/architecture (design.md "One process, clear rooms"), checked on the
 * import statements of every source file:
 *  - `src/core` and `src/state` are pure protocol logic: they import only each other and
 *    node:crypto (hashing, ed25519) / node:net (address grammar), never storage, HTTP or I/O;
 *  - API handlers (`src/api`) never touch LevelDB key spaces: no imports from `src/storage`;
 *  - nothing below `src/app` and `src/cli` imports them (they assemble; nobody depends on them).
 */
import test from 'ava';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '../..');
const SRC = join(ROOT, 'src');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sourceFiles(path) : path.endsWith('.ts') ? [path] : [];
  });
}

/** Module specifiers of static imports and re-exports (type-only ones included). */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/^\s*(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]/gm)].map((m) => m[1]!);
}

/** `src/<area>/...` of a relative import, or the bare package name. */
function target(file: string, spec: string): string {
  if (!spec.startsWith('.')) return spec;
  return relative(SRC, resolve(dirname(file), spec)).split('/')[0]!;
}

function areaOf(file: string): string {
  return relative(SRC, file).split('/')[0]!;
}

const files = sourceFiles(SRC);

test('the layering rules hold for every source file', (t) => {
  t.true(files.length > 50, 'found the sources');
  const violations: string[] = [];
  for (const file of files) {
    const area = areaOf(file);
    for (const spec of importsOf(file)) {
      const to = target(file, spec);
      const where = `${relative(ROOT, file)} imports ${spec}`;
      if (area === 'core' || area === 'state') {
        const pure = to === 'core' || to === 'state' || to === 'node:crypto' || to === 'node:net';
        if (!pure) violations.push(`${where}: pure protocol code may not depend on ${to}`);
      }
      if (area === 'api' && to === 'storage') violations.push(`${where}: handlers go through services, not key spaces`);
      if (area !== 'app' && area !== 'cli' && (to === 'app' || to === 'cli')) {
        violations.push(`${where}: ${to} assembles the gateway; nothing depends on it`);
      }
    }
  }
  t.deepEqual(violations, []);
});
