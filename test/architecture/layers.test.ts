/**
 * The layering rules of docs/architecture (design.md "One process, clear rooms"), checked on the
 * import statements of every source file:
 *  - `src/core` and `src/state` are pure protocol logic: they import only each other and
 *    node:crypto (hashing, ed25519) / node:net (address grammar), never storage, HTTP or I/O;
 *  - API handlers (`src/api`) never touch LevelDB key spaces: no imports from `src/storage`;
 *  - nothing below `src/app` and `src/cli` imports them (they assemble; nobody depends on them);
 *  - one writer of events: the event DAG's stores (`storage/events.ts`, `rooms.ts`,
 *    `state-snapshots.ts`, `relations.ts`) are imported by `src/rooms/engine.ts` and the storage
 *    layer only. Every event - a client send, an MQTT reading, a PDU received over federation -
 *    is written by the engine's one `persistEvent`, which keeps the timeline, the stream, the state
 *    snapshots, the forward extremities, the membership index and the state cache in step in one
 *    batch; a module writing a store directly would let them drift. Others read through the
 *    engine's named reads ("reads for other modules" in engine.ts); aliases and the public room
 *    list, which are not events, are `rooms/room-directory.ts`.
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

/** The event DAG's stores: the room engine's alone (see the header). */
const ENGINE_STORES = ['storage/events.ts', 'storage/rooms.ts', 'storage/state-snapshots.ts', 'storage/relations.ts'];
const ENGINE = 'rooms/engine.ts';

/** `src/`-relative path of a relative import (`.js` specifiers name `.ts` sources). */
function importedFile(file: string, spec: string): string | undefined {
  if (!spec.startsWith('.')) return undefined;
  return relative(SRC, resolve(dirname(file), spec)).replace(/\.js$/, '.ts');
}

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

test('only the room engine (and the storage layer) imports the event stores', (t) => {
  const violations: string[] = [];
  for (const file of files) {
    const from = relative(SRC, file);
    if (from === ENGINE || areaOf(file) === 'storage') continue;
    for (const spec of importsOf(file)) {
      const to = importedFile(file, spec);
      if (to && ENGINE_STORES.includes(to)) violations.push(`${relative(ROOT, file)} imports ${spec}: events are written by the engine's persistEvent; read through the engine`);
    }
  }
  t.deepEqual(violations, []);
});

test('the store rule sees an import of an event store', (t) => {
  // The rule is only as good as its parsing: a file of src/api importing the event store is caught.
  const file = join(SRC, 'api/client/x.ts');
  t.is(importedFile(file, '../../storage/events.js'), 'storage/events.ts');
  t.true(ENGINE_STORES.includes(importedFile(join(SRC, 'rooms/sync.ts'), '../storage/rooms.js')!));
  t.true(files.some((f) => relative(SRC, f) === ENGINE && importsOf(f).some((s) => importedFile(f, s) === 'storage/events.ts')), 'the engine itself imports it');
});
