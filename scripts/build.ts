/**
 * `make build`: bundles the gateway's TypeScript into ES modules, `dist/hearth.mjs` and the chunks
 * under `dist/chunks/` it imports, that plain `node` runs (what `make run` starts). Dependencies stay
 * in node_modules (`packages: 'external'`).
 *
 * Why chunks (code splitting): the sources load what only some paths need with `await import()`
 * (each CLI command, the metrics, the external MQTT broker). Bundled into one file, esbuild hoists
 * every package those modules import to the bundle's top, so `hearth run` loaded and kept the source
 * of the MQTT client library (and its readable-stream, lru-cache, worker-timers...), used only by
 * `mqtt.mode: external` and `hearth doctor`; each dynamic import is now a chunk loaded when reached.
 *
 * Why not run the sources through tsx, as `npx hearth` does: tsx's loader runs in a worker thread
 * with its own V8 isolate and keeps every transformed module's source; measured idle RSS of a fresh
 * gateway was 99 MB through tsx and 71 MB from this bundle (docs/performance.md).
 * `node --import tsx scripts/build.ts`
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { build } from 'esbuild';
import { embedStatusPage } from '../src/status/page-build.js';

const ROOT = resolve(import.meta.dirname, '..');
const DIST = join(ROOT, 'dist');
export const BUNDLE = join(DIST, 'hearth.mjs');

/** Builds into `outDir` (dist/ by default; tests build elsewhere); returns the entry's path. */
export async function buildBundle(outDir = DIST): Promise<string> {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  const result = await build({
    entryPoints: { hearth: join(ROOT, 'src/cli/main.ts') },
    outdir: outDir,
    outExtension: { '.js': '.mjs' },
    chunkNames: 'chunks/[name]-[hash]',
    splitting: true,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    packages: 'external',
    minifySyntax: true,
    // Stack traces map back to src/ with `node --enable-source-maps` (off by default: it costs memory).
    sourcemap: 'linked',
    legalComments: 'none',
    define: { 'process.env.HEARTH_VERSION': JSON.stringify(pkg.version) },
    // The status page's HTML, script and stylesheet, built and embedded as strings (src/status/page-build.ts).
    plugins: [embedStatusPage()],
    logLevel: 'warning',
    write: false,
  });
  // Chunk names carry a content hash: the chunks of an earlier build would pile up.
  rmSync(join(outDir, 'chunks'), { recursive: true, force: true });
  for (const file of result.outputFiles) {
    mkdirSync(dirname(file.path), { recursive: true });
    writeFileSync(file.path, file.path.endsWith('.mjs') ? latin1Only(file.text) : file.contents);
  }
  return join(outDir, 'hearth.mjs');
}

/**
 * V8 keeps a script's source for as long as the script lives, one byte per character only when every
 * character fits in Latin-1; a single `‖` in a comment made the 1 MB bundle a two-byte string, 2.1 MB
 * of heap (heap snapshot of an idle gateway, 2026-12-03). esbuild escapes non-ASCII characters in
 * code (its default `charset: 'ascii'`) but keeps comments as written, so whatever is left above
 * U+00FF is in a comment: each becomes one ASCII character, so columns (and the source map) stay true.
 */
export function latin1Only(source: string): string {
  return source.replace(/[^\u0000-\u00ff]/g, (c) => COMMENT_ASCII[c] ?? '?');
}

const COMMENT_ASCII: Record<string, string> = { '‖': '|', '…': '.', '→': '>', '←': '<', '—': '-', '–': '-', '≤': '<', '≥': '>' };

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  process.stdout.write(`built ${await buildBundle()}\n`);
}
