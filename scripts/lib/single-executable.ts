/**
 * The single-executable recipe shared by the gateway (firmware-gateway/build.ts) and the device
 * agent (devices/build-agent.ts), with Node's Single Executable Applications (SEA), offline: no
 * prebuilt Node is downloaded (docs/gateway-image.md).
 *   1. esbuild bundles the entry point into one CommonJS file, `<out>/<name>.cjs` (SEA runs CommonJS
 *      only), with the optional modules left out and the source kept Latin-1;
 *   2. `node --experimental-sea-config` turns the bundle and any assets into `<out>/sea-prep.blob`;
 *   3. a copy of this machine's `node` gets the blob injected with postject and the SEA sentinel
 *      fuse: `<out>/<name>`. Do NOT strip the result: stripping an injected binary makes it crash.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { build, type BuildOptions, type Plugin } from 'esbuild';
import { latin1Only } from '../build.js';

const ROOT = resolve(import.meta.dirname, '../..');

/** The fuse Node's SEA support looks for to know a blob was injected (Node's SEA documentation). */
const SEA_SENTINEL_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';

export interface SingleExecutable {
  /** The module to bundle, relative to the repository or absolute. */
  entry: string;
  /** The folder the build writes into (created). */
  out: string;
  /** The executable's file name; its bundle is `<name>.cjs` beside it. */
  name: string;
  /**
   * Optional packages left out of the bundle: requiring one throws, which its users catch to fall
   * back to JavaScript. Bundled, the SEA's require() would look for them on disk.
   */
  leftOut: readonly string[];
  /** What only this build bundles differently (its own plugins, externals, defines, banner). */
  esbuild?: Pick<BuildOptions, 'plugins' | 'external' | 'define' | 'banner' | 'minifyWhitespace'>;
  /** Files embedded in the blob beside the bundle, by the name `node:sea`'s `getAsset` takes. */
  assets?: Record<string, string>;
}

/** Builds `<out>/<name>` (the steps in the header), says so with its size, and returns its path. */
export async function buildSingleExecutable(executable: SingleExecutable): Promise<string> {
  const out = resolve(executable.out);
  mkdirSync(out, { recursive: true });
  const bundle = join(out, `${executable.name}.cjs`);
  await bundleCommonJs(executable, bundle);
  const seaConfig = join(out, 'sea-config.json');
  const blob = join(out, 'sea-prep.blob');
  writeFileSync(
    seaConfig,
    JSON.stringify(
      { main: bundle, output: blob, disableExperimentalSEAWarning: true, ...(executable.assets ? { assets: executable.assets } : {}) },
      null,
      2,
    ),
  );
  run(process.execPath, ['--experimental-sea-config', seaConfig]);
  const target = join(out, executable.name);
  injectSeaBlob(target, blob);
  process.stdout.write(`built ${target} (${(statSync(target).size / 2 ** 20).toFixed(1)} MiB)\n`);
  return target;
}

async function bundleCommonJs(executable: SingleExecutable, outfile: string): Promise<void> {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  const { plugins = [], define = {}, ...particular } = executable.esbuild ?? {};
  const result = await build({
    entryPoints: [resolve(ROOT, executable.entry)],
    outfile,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    minifySyntax: true,
    legalComments: 'none',
    ...particular,
    define: { ...define, 'process.env.HEARTH_VERSION': JSON.stringify(pkg.version) },
    plugins: [...plugins, leaveOut(executable.leftOut)],
    logLevel: 'warning',
    write: false,
  });
  // The script's source stays on the heap for the process's life: Latin-1 keeps it one byte per
  // character (scripts/build.ts `latin1Only`).
  for (const file of result.outputFiles) writeFileSync(file.path, latin1Only(file.text));
}

/** Each of `modules` becomes a module that throws when required. */
function leaveOut(modules: readonly string[]): Plugin {
  const filter = new RegExp(`^(${modules.map((m) => m.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')).join('|')})$`);
  return {
    name: 'optional-modules-left-out',
    setup(pluginBuild) {
      if (modules.length === 0) return;
      pluginBuild.onResolve({ filter }, (resolveArgs) => ({ path: resolveArgs.path, namespace: 'left-out' }));
      pluginBuild.onLoad({ filter: /.*/, namespace: 'left-out' }, (loadArgs) => ({
        contents: `throw new Error(${JSON.stringify(`${loadArgs.path} is not part of the single executable`)});`,
        loader: 'js',
      }));
    },
  };
}

/** Step 3: a copy of this machine's `node` at `target` with `blob` injected. */
export function injectSeaBlob(target: string, blob: string): void {
  copyFileSync(process.execPath, target);
  chmodSync(target, statSync(target).mode | 0o200);
  const postject = join(ROOT, 'node_modules/postject/dist/cli.js');
  const stderr = run(process.execPath, [postject, target, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', SEA_SENTINEL_FUSE], 'pipe');
  // postject reports each ELF note it cannot name ("Can't find string offset..."): harmless noise.
  const said = stderr.split('\n').filter((line) => line !== '' && !line.includes("Can't find string offset"));
  if (said.length > 0) process.stderr.write(`${said.join('\n')}\n`);
}

/** Runs a build step, its output passed through (stderr returned instead when `stderr` is 'pipe'); throws if it fails. */
function run(command: string, args: string[], stderr: 'inherit' | 'pipe' = 'inherit'): string {
  const step = spawnSync(command, args, { stdio: ['ignore', 'inherit', stderr], encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (step.error) throw step.error;
  if (step.status !== 0) {
    if (stderr === 'pipe') process.stderr.write(step.stderr);
    throw new Error(`${[command, ...args].join(' ')} exited with ${step.status ?? step.signal}`);
  }
  return step.stderr ?? '';
}

/**
 * The build scripts' command line: `--out DIR` (default `defaultOut`) plus `options`; anything else
 * prints `usage` and exits 2.
 */
export function buildArgs<T extends NonNullable<ParseArgsConfig['options']>>(usage: string, defaultOut: string, options: T) {
  try {
    return parseArgs({ options: { ...options, out: { type: 'string', default: defaultOut } } }).values;
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\nusage: ${usage}\n`);
    process.exit(2);
  }
}

