/**
 * The gateway as one executable (build.sh runs this; docs/gateway-image.md): the single-executable
 * recipe (scripts/lib/single-executable.ts) with the gateway's particulars: classic-level's native
 * addon embedded as a SEA asset, the status page embedded as strings, `import.meta` mapped to the
 * bundle's file, and the image library (sharp and its libvips) copied into `node_modules` beside the
 * executable, from where the gateway loads it at run time.
 * `node --import tsx firmware-gateway/build.ts [--entry FILE] [--out DIR]`: `<out>/hearth`.
 */
import { cpSync, copyFileSync, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Plugin } from 'esbuild';
import { buildArgs, buildSingleExecutable } from '../scripts/lib/single-executable.js';
import { embedStatusPage } from '../src/status/page-build.js';

const ROOT = resolve(import.meta.dirname, '..');
const args = buildArgs('bash firmware-gateway/build.sh [--entry FILE] [--out DIR]', join(ROOT, 'firmware-gateway', 'out'), {
  entry: { type: 'string', default: 'src/cli/main.ts' },
});
const OUT = resolve(args.out);

/** classic-level's `require('./binding')` loads the SEA asset instead of searching node_modules. */
const classicLevelAddon: Plugin = {
  name: 'classic-level-sea-addon',
  setup(pluginBuild) {
    pluginBuild.onResolve({ filter: /^\.\/binding(\.js)?$/ }, (resolveArgs) =>
      /[\\/]classic-level[\\/]/.test(resolveArgs.importer)
        ? { path: join(ROOT, 'firmware-gateway', 'classic-level-binding.cjs') }
        : undefined,
    );
  },
};

/**
 * Optional modules left out: cbor-x falls back to pure JS, ws to JS masking and UTF-8 validation,
 * debug to no colour detection.
 */
const OPTIONAL_MODULES = ['cbor-extract', 'bufferutil', 'utf-8-validate', 'supports-color'];

/**
 * Modules loaded from disk at run time, never bundled: sharp is a native addon with a 20 MB libvips
 * (media/image-library.ts loads it with a dynamic import, and from `node_modules` beside the
 * executable inside the SEA).
 */
const RUNTIME_MODULES = ['sharp'];

/**
 * A package and everything it needs that is installed here: its dependencies and the optional ones
 * present (sharp's `@img/sharp-<platform>` addon and `@img/sharp-libvips-<platform>` library: npm
 * installed this machine's only), copied into `<out>/node_modules`.
 */
function copyRuntimeModules(names: string[], into: string): string[] {
  const copied = new Set<string>();
  const visit = (name: string) => {
    if (copied.has(name)) return;
    const from = join(ROOT, 'node_modules', name);
    if (!existsSync(join(from, 'package.json'))) return;
    copied.add(name);
    const manifest = JSON.parse(readFileSync(join(from, 'package.json'), 'utf8')) as { dependencies?: Record<string, string>; optionalDependencies?: Record<string, string> };
    cpSync(from, join(into, name), { recursive: true, dereference: true });
    for (const dep of [...Object.keys(manifest.dependencies ?? {}), ...Object.keys(manifest.optionalDependencies ?? {})]) visit(dep);
  };
  rmSync(into, { recursive: true, force: true });
  for (const name of names) {
    if (!existsSync(join(ROOT, 'node_modules', name, 'package.json'))) throw new Error(`${name} is not installed: run npm ci`);
    visit(name);
  }
  return [...copied];
}

mkdirSync(OUT, { recursive: true });
copyRuntimeModules(RUNTIME_MODULES, join(OUT, 'node_modules'));
copyFileSync(join(ROOT, 'node_modules/classic-level/prebuilds', `${process.platform}-${process.arch}`, 'classic-level.node'), join(OUT, 'classic-level.node'));
await buildSingleExecutable({
  entry: args.entry,
  out: OUT,
  name: 'hearth',
  leftOut: OPTIONAL_MODULES,
  esbuild: {
    define: { 'import.meta.url': 'hearthImportMetaUrl', 'import.meta.dirname': '__dirname' },
    banner: { js: "const hearthImportMetaUrl = require('node:url').pathToFileURL(__filename).href;" },
    // The status page is embedded as strings (src/status/page-build.ts): the executable reads no file to serve it.
    plugins: [classicLevelAddon, embedStatusPage()],
    external: RUNTIME_MODULES,
  },
  assets: { 'classic-level.node': join(OUT, 'classic-level.node') },
});
