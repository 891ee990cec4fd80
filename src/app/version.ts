/** Hearth's version: the one a bundle was built with (`HEARTH_VERSION`), else package.json's. */
import { readFileSync } from 'node:fs';

export function hearthVersion(): string {
  // Bundles (dist/hearth.mjs, the single executable) have the version defined at build time: their
  // location says nothing about where package.json is.
  if (process.env.HEARTH_VERSION) return process.env.HEARTH_VERSION;
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    return pkg.version;
  } catch {
    return 'unknown';
  }
}
