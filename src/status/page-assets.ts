/**
 * The status page's files as strings. In the gateway's bundles (dist/hearth.mjs, the single
 * executable) this module is replaced at build time by one returning the built strings
 * (page-build.ts `embedStatusPage`): nothing is read from disk or fetched from elsewhere to serve
 * the page. Run from the sources (tsx: `npx hearth run`, the tests), the page is built from
 * src/status/page/ at its first request.
 */

export interface StatusPageAssets {
  html: string;
  js: string;
  css: string;
}

export async function loadStatusPageAssets(): Promise<StatusPageAssets> {
  // Not a literal specifier: a bundler must not follow it into esbuild (the bundles never get here).
  const builder = './page-build.js';
  const { buildStatusPage } = (await import(builder)) as typeof import('./page-build.js');
  return buildStatusPage();
}
