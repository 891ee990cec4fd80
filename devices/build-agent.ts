/**
 * The device agent as one executable (devices/build-agent.sh runs this; devices/README.md): the
 * gateway's single-executable recipe (scripts/lib/single-executable.ts) for `devices/agent/main.ts`.
 * The agent has no native module, so its blob is the bundle alone.
 * `node --import tsx devices/build-agent.ts [--out DIR]`: `<out>/hearth-agent`.
 */
import { join, resolve } from 'node:path';
import { buildArgs, buildSingleExecutable } from '../scripts/lib/single-executable.js';

const ROOT = resolve(import.meta.dirname, '..');
const args = buildArgs('bash devices/build-agent.sh [--out DIR]', join(ROOT, 'devices', 'out'), {});

await buildSingleExecutable({
  entry: 'devices/agent/main.ts',
  out: args.out,
  name: 'hearth-agent',
  // Optional native helpers of mqtt.js' WebSocket transport (ws): it falls back to JavaScript
  // masking and UTF-8 checks.
  leftOut: ['bufferutil', 'utf-8-validate', 'supports-color'],
  // Whitespace and comments out: V8 keeps the whole source as a string for the agent's life (1.1 MB
  // with them, 0.73 MB without). Names stay, so stack traces still read.
  esbuild: { minifyWhitespace: true },
});
