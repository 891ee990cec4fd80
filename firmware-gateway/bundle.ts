/**
 * Step 1 of the single-executable build (see build.sh): bundles the gateway into one CommonJS file
 * with esbuild, puts classic-level's native addon beside it, and writes the SEA configuration that
 * embeds both. `node --import tsx firmware-gateway/bundle.ts [--entry FILE] [--out DIR]`
 */
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { build, type Plugin } from 'esbuild';
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
  logLevel: 'warning',
});

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
