/**
 * The long fuzz run of `make proof` (issue 10 "The harness"): by default 100,000 generated and mutated
 * inputs over the Client-Server API and MQTT against one gateway process (test/fuzz/campaign.ts),
 * with an ordinary client's and device's round trip every 5,000 inputs. Prints progress on stderr,
 * the summary and every finding with its reproducer on stdout; exits 1 on any finding.
 *
 *   node --import tsx scripts/proof/fuzz.ts [--inputs 100000] [--seed N] [--concurrency 4] [--surface client-server|mqtt]
 * A finding replays from its seed and index: the same seed generates the same input at that index.
 */
import { parseArgs } from 'node:util';
import { runCampaign } from '../../test/fuzz/campaign.js';
import { summarise } from '../../test/fuzz/runner.js';

const { values: args } = parseArgs({
  options: {
    inputs: { type: 'string', default: '100000' },
    seed: { type: 'string', default: String(Date.now() % 2 ** 31) },
    concurrency: { type: 'string', default: '4' },
    surface: { type: 'string', multiple: true },
  },
});
const count = Number(args.inputs);
const seed = Number(args.seed);
const started = Date.now();
let reported = 0;
process.stderr.write(`fuzz: ${count} inputs, seed ${seed}\n`);
const { report, output, rssKb } = await runCampaign({
  seed,
  count,
  concurrency: Number(args.concurrency),
  surfaces: args.surface as Array<'client-server' | 'mqtt'> | undefined,
  healthEvery: 5000,
  progressEvery: 5000,
  onProgress: (done, r) => {
    const rate = done / ((Date.now() - started) / 1000);
    process.stderr.write(`fuzz: ${done}/${count} (${rate.toFixed(0)}/s), ${r.findings.length} findings\n`);
    // Each finding as soon as it is known: a long run is worth reading before it ends.
    for (const f of r.findings.slice(reported)) process.stderr.write(`fuzz: [${f.kind}] ${f.target} #${f.index}: ${f.detail.slice(0, 300)}\n    ${JSON.stringify(f.input).slice(0, 1500)}\n`);
    reported = r.findings.length;
  },
});
process.stdout.write(`${summarise(report)}\n`);
if (rssKb !== undefined) process.stdout.write(`gateway RSS at the end: ${(rssKb / 1024).toFixed(1)} MB\n`);
const failed = report.findings.length > 0 || report.crash !== undefined;
if (failed) process.stdout.write(`--- gateway output (tail) ---\n${output.slice(-8000)}\n`);
process.stdout.write(`${JSON.stringify({ seed, inputs: report.inputs, seconds: Math.round(report.durationMs / 1000), findings: report.findings.length, crashed: report.crash !== undefined })}\n`);
process.exit(failed ? 1 : 0);
