/**
 * Issue 10 "The harness", fuzzing, the quick seeded run: a few thousand generated and mutated
 * Client-Server requests and MQTT packets against the real gateway process. Oracle: no 5xx, no hang,
 * no torn connection, the process stays up, and afterwards an ordinary client and an ordinary device
 * are still served. A failure prints each finding with its reproducer (route, path, body or topic,
 * payload); HEARTH_FUZZ_SEED / HEARTH_FUZZ_COUNT replay another run. The long run: `make proof`.
 */
import test from 'ava';
import { runCampaign } from './campaign.js';
import { summarise } from './runner.js';

const seed = Number(process.env.HEARTH_FUZZ_SEED ?? 20261203);
const count = Number(process.env.HEARTH_FUZZ_COUNT ?? 2000);

test('seeded fuzz run over the Client-Server API and MQTT: no 5xx, no hang, no crash, still serving', async (t) => {
  t.timeout(170_000);
  const { report, output } = await runCampaign({ seed, count, healthEvery: 1000 });
  t.log(summarise(report));
  if (report.crash || report.findings.length > 0) t.log(output.slice(-8000));
  t.is(report.crash, undefined, 'the gateway process stayed up');
  t.deepEqual(report.findings, [], 'no 5xx, hang, torn connection or failed health check');
  t.is(report.inputs, count);
  // The run reached past validation: some inputs succeeded on each surface.
  t.true((report.labels['client-server']?.['200'] ?? 0) > count / 20, 'Client-Server inputs that succeeded');
  t.true((report.labels.mqtt?.puback ?? 0) > count / 20, 'MQTT publishes acknowledged');
});
