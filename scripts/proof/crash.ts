/**
 * The long crash-consistency run of `make proof` (issue 10 "The harness"): 200 SIGKILLs of the real
 * gateway under mixed HTTP and MQTT load by default (test/crash/crash-consistency.ts has the checks).
 * Prints each kill on stderr and the summary on stdout; exits 1 when anything acknowledged was lost.
 *
 *   node --import tsx scripts/proof/crash.ts [--kills 200] [--seed N]
 */
import { parseArgs } from 'node:util';
import { runCrashConsistency } from '../../test/crash/crash-consistency.js';

const { values: args } = parseArgs({
  options: {
    kills: { type: 'string', default: '200' },
    seed: { type: 'string', default: String(Date.now() % 2 ** 31) },
  },
});
const kills = Number(args.kills);
const seed = Number(args.seed);
const started = Date.now();
const report = await runCrashConsistency({ kills, seed, log: (line) => process.stderr.write(`crash: ${line}\n`) });
const restarts = [...report.restartMs].sort((a, b) => a - b);
const summary = {
  seed,
  kills: report.kills,
  ackedEvents: report.ackedEvents,
  ackedStateChanges: report.ackedStateChanges,
  ackedReadings: report.ackedReadings,
  syncTokensChecked: report.syncTokensChecked,
  restartMsMedian: restarts[Math.floor(restarts.length / 2)],
  restartMsMax: restarts.at(-1),
  failures: report.failures.length,
  minutes: +((Date.now() - started) / 60_000).toFixed(1),
};
for (const failure of report.failures) process.stdout.write(`FAIL ${failure}\n`);
if (report.failures.length) process.stdout.write(`--- gateway output (tail) ---\n${report.output?.slice(-8000)}\n`);
process.stdout.write(`${JSON.stringify(summary)}\n`);
process.exit(report.failures.length ? 1 : 0);
