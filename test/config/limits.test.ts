/** The rate-limit, connection, long-poll and storage settings of hearth.yaml: defaults, overrides, refusals. */
import test from 'ava';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/config.js';
import { connectionBudget, descriptorLimit } from '../../src/limits/connections.js';

function withYaml(t: { teardown(fn: () => void): void }, yaml: string | undefined): string {
  const dir = mkdtempSync(join(tmpdir(), 'hearth-config-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  if (yaml !== undefined) writeFileSync(join(dir, 'hearth.yaml'), yaml);
  return dir;
}

test("defaults are Synapse's rate limits and the template spells them", (t) => {
  const config = loadConfig({ dataDir: withYaml(t, undefined), env: {} });
  t.true(config.rateLimits.enabled);
  t.deepEqual(config.rateLimits.rcMessage, { perSecond: 0.2, burstCount: 10 });
  t.deepEqual(config.rateLimits.rcRegistration, { perSecond: 0.17, burstCount: 3 });
  t.deepEqual(config.rateLimits.rcLogin, {
    address: { perSecond: 0.003, burstCount: 5 },
    account: { perSecond: 0.003, burstCount: 5 },
    failedAttempts: { perSecond: 0.17, burstCount: 3 },
  });
  t.is(config.storage.sync, 'batch');
  t.is(config.storage.minFreeBytes, 64 * 1024 * 1024);
  t.deepEqual(config.sync, { maxLongPolls: 1000, maxLongPollsPerUser: 20 });
  t.is(config.connections.max, 0);
});

test('hearth.yaml overrides, HEARTH_RATE_LIMITS switches them off', (t) => {
  const dir = withYaml(t, 'rate_limits:\n  rc_login:\n    failed_attempts: { per_second: 1, burst_count: 7 }\nstorage:\n  sync: always\n');
  const config = loadConfig({ dataDir: dir, env: {} });
  t.deepEqual(config.rateLimits.rcLogin.failedAttempts, { perSecond: 1, burstCount: 7 });
  t.deepEqual(config.rateLimits.rcLogin.address, { perSecond: 0.003, burstCount: 5 }, 'the rest keep their defaults');
  t.is(config.storage.sync, 'always');
  t.false(loadConfig({ dataDir: dir, env: { HEARTH_RATE_LIMITS: 'off' } }).rateLimits.enabled);
  t.throws(() => loadConfig({ dataDir: dir, env: { HEARTH_RATE_LIMITS: 'maybe' } }), { message: /HEARTH_RATE_LIMITS must be on or off/ });
});

test('settings a typo would break are refused at start', (t) => {
  for (const [yaml, message] of [
    ['rate_limits:\n  rc_message: { per_second: -1, burst_count: 10 }\n', /rate_limits\.rc_message needs per_second >= 0 and burst_count >= 1/],
    ['rate_limits:\n  rc_message: { per_second: 1, burst_count: 0 }\n', /rate_limits\.rc_message needs/],
    ['rate_limits:\n  rc_login:\n    address: { per_second: "fast", burst_count: 3 }\n', /rate_limits\.rc_login\.address needs/],
    ['storage:\n  sync: sometimes\n', /storage\.sync must be always, batch or none/],
    ['sync:\n  max_long_polls: -5\n', /sync\.max_long_polls must be a whole number >= 0/],
    ['connections:\n  max: 1.5\n', /connections\.max must be a whole number/],
  ] as const) {
    t.throws(() => loadConfig({ dataDir: withYaml(t, yaml), env: {} }), { message }, yaml);
  }
});

test('the connection budget stays below the descriptor limit', (t) => {
  t.is(connectionBudget(100, 1024), 100, 'configured wins');
  t.is(connectionBudget(0, 1024), 1024 - 192);
  t.is(connectionBudget(0, 100), 16, 'never below 16');
  const dir = withYaml(t, undefined);
  writeFileSync(join(dir, 'limits'), 'Limit                     Soft Limit           Hard Limit           Units\nMax open files            4096                 524288               files\n');
  t.is(descriptorLimit(join(dir, 'limits')), 4096);
  t.is(descriptorLimit(join(dir, 'missing')), undefined);
});
