/**
 * Issue 10 "The harness", crash consistency, the quick version: a few SIGKILLs of the real gateway
 * under mixed HTTP and MQTT load (crash-consistency.ts explains the checks). 200 kills: `make proof`.
 */
import test from 'ava';
import { runCrashConsistency } from './crash-consistency.js';

const kills = Number(process.env.HEARTH_CRASH_KILLS ?? 3);

test('acknowledged events, state changes and readings survive SIGKILL; sync tokens keep working', async (t) => {
  t.timeout(170_000);
  const report = await runCrashConsistency({ kills, seed: Number(process.env.HEARTH_CRASH_SEED ?? 7), log: (line) => t.log(line) });
  if (report.failures.length) t.log(report.output?.slice(-6000));
  t.deepEqual(report.failures, []);
  t.is(report.kills, kills);
  // The load did something before each kill: the checks had acknowledged writes to look for.
  t.true(report.ackedEvents >= kills, `${report.ackedEvents} events`);
  t.true(report.ackedReadings >= kills, `${report.ackedReadings} readings`);
  t.true(report.ackedStateChanges >= kills, `${report.ackedStateChanges} state changes`);
});
