/**
 * The device agent's size and memory (issue 14, target: RSS <= 40 MB), measured in one run for the
 * three ways it runs: from the sources (`node --import tsx devices/agent/main.ts`, as agent.service
 * starts it), the esbuild bundle (`node hearth-agent.cjs`) and the single executable
 * (`./hearth-agent`, devices/build-agent.sh). Each runs the same config in a folder of its own: a
 * thermal zone (the kernel's format, from test/devices/fixtures) and a command driver, both every
 * second, signing on, against a bare aedes in another process. RSS is read once a second after a
 * warm-up; the table gives the lowest, median and highest reading.
 *
 *   npx tsx scripts/agent-rss.ts [--built DIR] [--warmup S] [--seconds S]
 *
 * `--built DIR` uses an earlier `bash devices/build-agent.sh --out DIR` instead of building.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { startBareAedes } from './lib/processes.js';
import { rssBytes } from './lib/proc.js';

const ROOT = resolve(import.meta.dirname, '..');
const { values: args } = parseArgs({ options: { built: { type: 'string' }, warmup: { type: 'string', default: '20' }, seconds: { type: 'string', default: '20' } } });
const WARMUP_S = Number(args.warmup);
const SAMPLE_S = Number(args.seconds);
const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));
const mb = (bytes: number) => `${(bytes / 1_000_000).toFixed(1)} MB`;

const work = mkdtempSync(join(tmpdir(), 'hearth-agent-rss-'));
process.once('exit', () => rmSync(work, { recursive: true, force: true }));

let built = args.built ? resolve(args.built) : join(work, 'build');
if (!args.built) {
  await promisify(execFile)('bash', ['devices/build-agent.sh', '--out', built], { cwd: ROOT, maxBuffer: 16 * 1024 * 1024 });
}
built = resolve(built);

const { server: broker, url } = await startBareAedes();

function config(): string {
  return `broker: ${url}
username: rss-pi
password: unused-by-bare-aedes
device: { id: rss-pi, name: RSS Pi }
convention: homeassistant
queue_dir: state/queue
sensors:
  - { key: cpu_temperature, driver: thermal_zone, root: thermal, zone: cpu-thermal, interval_seconds: 1, unit: °C }
  - { key: gpu_temperature, driver: command, command: [/bin/echo, "temp=48.3'C"], pattern: "temp=([0-9.]+)", interval_seconds: 1, unit: °C }
`;
}

function prepare(name: string): string {
  const dir = join(work, name);
  mkdirSync(dir);
  cpSync(join(ROOT, 'test/devices/fixtures/thermal'), join(dir, 'thermal'), { recursive: true });
  writeFileSync(join(dir, 'agent.yaml'), config());
  return dir;
}

interface Variant {
  name: string;
  start(dir: string): ChildProcess;
}

const variants: Variant[] = [
  // The floor: the same node doing nothing (an empty event loop), in this run.
  { name: 'baseline: node, an empty event loop', start: () => spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000); console.error("online")'], { cwd: work, env: {}, stdio: ['ignore', 'ignore', 'pipe'] }) },
  { name: 'sources (node --import tsx)', start: (dir) => spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'devices/agent/main.ts'), '--config', join(dir, 'agent.yaml')], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] }) },
  {
    name: 'bundle (node hearth-agent.cjs)',
    start: (dir) => {
      copyFileSync(join(built, 'hearth-agent.cjs'), join(dir, 'hearth-agent.cjs'));
      return spawn(process.execPath, ['hearth-agent.cjs', '--config', 'agent.yaml'], { cwd: dir, env: {}, stdio: ['ignore', 'ignore', 'pipe'] });
    },
  },
  {
    name: 'single executable (./hearth-agent)',
    start: (dir) => {
      copyFileSync(join(built, 'hearth-agent'), join(dir, 'hearth-agent'));
      return spawn('./hearth-agent', ['--config', 'agent.yaml'], { cwd: dir, env: {}, stdio: ['ignore', 'ignore', 'pipe'] });
    },
  },
  {
    // What a unit file can add without rebuilding: a 1 MB young generation, one malloc arena.
    name: 'single executable, NODE_OPTIONS=--max-semi-space-size=1 MALLOC_ARENA_MAX=1',
    start: (dir) => {
      copyFileSync(join(built, 'hearth-agent'), join(dir, 'hearth-agent'));
      return spawn('./hearth-agent', ['--config', 'agent.yaml'], { cwd: dir, env: { NODE_OPTIONS: '--max-semi-space-size=1', MALLOC_ARENA_MAX: '1' }, stdio: ['ignore', 'ignore', 'pipe'] });
    },
  },
];

const rows: string[] = [];
for (const [i, variant] of variants.entries()) {
  const dir = prepare(`v${i}`);
  const child = variant.start(dir);
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-4000)));
  await sleep(WARMUP_S * 1000);
  if (child.exitCode !== null) throw new Error(`${variant.name} exited ${child.exitCode}: ${stderr}`);
  const readings: number[] = [];
  for (let s = 0; s < SAMPLE_S; s++) {
    readings.push(rssBytes(child.pid!));
    await sleep(1000);
  }
  if (!/online/.test(stderr)) throw new Error(`${variant.name} never went online: ${stderr}`);
  const exited = new Promise((done) => child.once('exit', done));
  child.kill('SIGTERM');
  await exited;
  readings.sort((a, b) => a - b);
  rows.push(`| ${variant.name} | ${mb(readings[0]!)} | ${mb(readings[Math.floor(readings.length / 2)]!)} | ${mb(readings.at(-1)!)} |`);
}
await broker.stop();

const size = (file: string) => statSync(join(built, file)).size;
const gz = (file: string) => gzipSync(readFileSync(join(built, file)), { level: 6 }).length;
console.log(`node ${process.version}, ${process.arch}; warm-up ${WARMUP_S} s, ${SAMPLE_S} readings 1 s apart\n`);
console.log('| agent | RSS lowest | median | highest |\n|---|---|---|---|');
for (const row of rows) console.log(row);
console.log(`\n| file | size | gzip -6 |\n|---|---|---|`);
for (const file of ['hearth-agent', 'hearth-agent.cjs', 'sea-prep.blob']) console.log(`| ${file} | ${mb(size(file))} | ${mb(gz(file))} |`);
