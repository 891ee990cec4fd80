/**
 * Step 1 of the single-executable build (see build.sh): bundles the gateway into one CommonJS file
 * with esbuild, puts classic-level's native addon beside it, writes the SEA configuration that
 * embeds both, and copies the image library (sharp and its libvips) into `node_modules` beside the
 * executable, from where the gateway loads it at run time.
 * `node --import tsx firmware-gateway/bundle.ts [--entry FILE] [--out DIR]`
 */
import { cpSync, copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { build, type Plugin } from 'esbuild';
import { latin1Only } from '../scripts/build.js';
import { embedStatusPage } from '../src/status/page-build.js';

const ROOT = resolve(import.meta.dirname, '..');
const { values: args } = parseArgs({
  options: { entry: { type: 'string', default: 'src/cli/main.ts' }, out: { type: 'string', default: join(ROOT, 'firmware-gateway', 'out') } },
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
 * Optional modules are left out: requiring them throws, which cbor-x (pure JS fallback), ws (JS
 * masking and UTF-8 validation) and debug (no colour detection) catch. Without this, the SEA's
 * require() would look on disk and warn.
 */
const OPTIONAL_MODULES = /^(cbor-extract|bufferutil|utf-8-validate|supports-color)$/;
const optionalModulesLeftOut: Plugin = {
  name: 'optional-modules-left-out',
  setup(pluginBuild) {
    pluginBuild.onResolve({ filter: OPTIONAL_MODULES }, (resolveArgs) => ({ path: resolveArgs.path, namespace: 'left-out' }));
    pluginBuild.onLoad({ filter: /.*/, namespace: 'left-out' }, (loadArgs) => ({
      contents: `throw new Error(${JSON.stringify(`${loadArgs.path} is not part of the single executable`)});`,
      loader: 'js',
    }));
  },
};

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

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
mkdirSync(OUT, { recursive: true });
await build({
  entryPoints: [join(ROOT, args.entry)],
  outfile: join(OUT, 'hearth.cjs'),
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  minifySyntax: true,
  legalComments: 'none',
  define: {
    'import.meta.url': 'hearthImportMetaUrl',
    'import.meta.dirname': '__dirname',
    'process.env.HEARTH_VERSION': JSON.stringify(pkg.version),
  },
  banner: { js: "const hearthImportMetaUrl = require('node:url').pathToFileURL(__filename).href;" },
  // The status page is embedded as strings (src/status/page-build.ts): the executable reads no file to serve it.
  plugins: [classicLevelAddon, optionalModulesLeftOut, embedStatusPage()],
  external: RUNTIME_MODULES,
  logLevel: 'warning',
});

// The script's source stays on the heap: Latin-1 keeps it one byte per character (scripts/build.ts).
writeFileSync(join(OUT, 'hearth.cjs'), latin1Only(readFileSync(join(OUT, 'hearth.cjs'), 'utf8')));
copyRuntimeModules(RUNTIME_MODULES, join(OUT, 'node_modules'));
copyFileSync(join(ROOT, 'node_modules/classic-level/prebuilds', `${process.platform}-${process.arch}`, 'classic-level.node'), join(OUT, 'classic-level.node'));
writeFileSync(
  join(OUT, 'sea-config.json'),
  JSON.stringify(
    {
      main: join(OUT, 'hearth.cjs'),
      output: join(OUT, 'sea-prep.blob'),
      disableExperimentalSEAWarning: true,
      assets: { 'classic-level.node': join(OUT, 'classic-level.node') },
    },
    null,
    2,
  ),
);
