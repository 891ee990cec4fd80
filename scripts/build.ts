/**
 * `make build`: bundles the gateway's TypeScript into one ES module, `dist/hearth.mjs`, that plain
 * `node` runs (what `make run` starts). Dependencies stay in node_modules (`packages: 'external'`).
 *
 * Why not run the sources through tsx, as `npx hearth` does: tsx's loader runs in a worker thread
 * with its own V8 isolate and keeps every transformed module's source; measured idle RSS of a fresh
 * gateway was 99 MB through tsx and 71 MB from this bundle (docs/performance.md).
 * `node --import tsx scripts/build.ts`
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';
import { embedStatusPage } from '../src/status/page-build.js';

const ROOT = resolve(import.meta.dirname, '..');
export const BUNDLE = join(ROOT, 'dist', 'hearth.mjs');

export async function buildBundle(): Promise<string> {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  await build({
    entryPoints: [join(ROOT, 'src/cli/main.ts')],
    outfile: BUNDLE,
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
  });
  writeFileSync(BUNDLE, latin1Only(readFileSync(BUNDLE, 'utf8')));
  return BUNDLE;
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
