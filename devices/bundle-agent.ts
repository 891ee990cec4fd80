/**
 * Step 1 of the device agent's single-executable build (devices/build-agent.sh): bundles
 * `devices/agent/main.ts` with esbuild into one CommonJS file and writes the SEA configuration.
 * The gateway's recipe (firmware-gateway/bundle.ts) without its LevelDB addon: the agent has no
 * native module, so its blob is the bundle alone.
 * `node --import tsx devices/bundle-agent.ts --out DIR`
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { build, type Plugin } from 'esbuild';

const ROOT = resolve(import.meta.dirname, '..');
const { values: args } = parseArgs({ options: { out: { type: 'string', default: join(ROOT, 'devices', 'out') } } });
const OUT = resolve(args.out);

/**
 * Optional native helpers of mqtt.js' WebSocket transport (ws) are left out: requiring them throws,
 * which ws catches (JavaScript masking and UTF-8 checks). Without this the SEA's require() would
 * look on disk for them.
 */
const OPTIONAL_MODULES = /^(bufferutil|utf-8-validate|supports-color)$/;
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
  entryPoints: [join(ROOT, 'devices/agent/main.ts')],
  outfile: join(OUT, 'hearth-agent.cjs'),
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  minifySyntax: true,
  // Whitespace and comments out: V8 keeps the whole source as a string, and a comment's one
  // non-Latin-1 character (an em dash in a dependency's JSDoc) made it two bytes a character:
  // 2.2 MB of the agent's heap for a 1.1 MB file. Names stay, so stack traces still read.
  minifyWhitespace: true,
  charset: 'ascii',
  legalComments: 'none',
  define: { 'process.env.HEARTH_VERSION': JSON.stringify(pkg.version) },
  plugins: [optionalModulesLeftOut],
  logLevel: 'warning',
});

writeFileSync(
  join(OUT, 'sea-config.json'),
  JSON.stringify({ main: join(OUT, 'hearth-agent.cjs'), output: join(OUT, 'sea-prep.blob'), disableExperimentalSEAWarning: true }, null, 2),
);
