/*
 * Replaces classic-level's `binding.js` (`require('node-gyp-build')(__dirname)`) in the single
 * executable. node-gyp-build looks for `prebuilds/<platform>-<arch>/*.node` next to the package, and
 * there is no package on disk in a single executable. Instead the addon travels inside the binary
 * as the SEA asset `classic-level.node`: it is written once to a temp file named by its hash (a
 * shared object can only be loaded from a file) and loaded with process.dlopen.
 * When the bundle runs under plain `node` (to test it), the addon is read from beside the bundle.
 */
'use strict';
const { createHash } = require('node:crypto');
const { existsSync, readFileSync, renameSync, writeFileSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');

function addonBytes() {
  const sea = require('node:sea');
  if (sea.isSea()) return Buffer.from(sea.getRawAsset('classic-level.node'));
  return readFileSync(join(__dirname, 'classic-level.node'));
}

function addonFile(bytes) {
  const digest = createHash('sha256').update(bytes).digest('hex').slice(0, 16);
  const file = join(process.env.HEARTH_ADDON_DIR || tmpdir(), `hearth-classic-level-${digest}.node`);
  if (!existsSync(file)) {
    // Write then rename, so a concurrent start never dlopens a half-written file.
    const partial = `${file}.${process.pid}.tmp`;
    writeFileSync(partial, bytes, { mode: 0o500 });
    renameSync(partial, file);
  }
  return file;
}

const addon = { exports: {} };
process.dlopen(addon, addonFile(addonBytes()));
module.exports = addon.exports;
