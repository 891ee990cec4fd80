/**
 * Builds the status page (src/status/page/: plain TypeScript and DOM, uPlot for the charts) into
 * three strings: the HTML, one minified script and one stylesheet. Run at build time by
 * scripts/build.ts (dist/hearth.mjs) and firmware-gateway/build.ts (the single executable), whose
 * `embedStatusPage` plugin replaces page-assets.ts with a module holding the strings: the bundles
 * read no file to serve the page. Under tsx (development, tests) page-assets.ts calls this at the
 * page's first request.
 *
 * Uses esbuild (a build dependency): never imported by the gateway's bundled code.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { build, type Plugin } from 'esbuild';
import type { StatusPageAssets } from './page-assets.js';

const PAGE_DIR = join(import.meta.dirname, 'page');

export async function buildStatusPage(): Promise<StatusPageAssets> {
  const result = await build({
    entryPoints: [join(PAGE_DIR, 'main.ts')],
    bundle: true,
    write: false,
    platform: 'browser',
    format: 'iife',
    // Phones a few years old: Safari 14, Chrome 90.
    target: ['es2020', 'safari14', 'chrome90', 'firefox90'],
    minify: true,
    // uPlot's MIT notice stays with it.
    legalComments: 'eof',
    logLevel: 'warning',
  });
  const js = result.outputFiles[0]!.text;
  const require = createRequire(import.meta.url);
  const css = readFileSync(require.resolve('uplot/dist/uPlot.min.css'), 'utf8') + '\n' + minifyCss(readFileSync(join(PAGE_DIR, 'style.css'), 'utf8'));
  const html = readFileSync(join(PAGE_DIR, 'index.html'), 'utf8');
  return { html, js, css };
}

/** Comments and runs of white space out: the stylesheet is small and plain, no CSS tool needed. */
function minifyCss(css: string): string {
  return css
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/\s+/g, ' ')
    .replace(/\s*([{};:,>])\s*/g, '$1')
    .trim();
}

/** The esbuild plugin of the gateway's bundles: page-assets.ts becomes the built strings. */
export function embedStatusPage(): Plugin {
  return {
    name: 'embed-status-page',
    setup(pluginBuild) {
      let assets: Promise<StatusPageAssets> | undefined;
      pluginBuild.onLoad({ filter: /[\\/]src[\\/]status[\\/]page-assets\.ts$/ }, async () => {
        assets ??= buildStatusPage();
        return {
          contents: `export async function loadStatusPageAssets() { return ${JSON.stringify(await assets)}; }`,
          loader: 'js',
        };
      });
    },
  };
}
