/**
 * `hearth doctor`'s key, certificate and disk checks on their own (cli/doctor/certificates.ts,
 * disk.ts), with the clock injected: a signing key that does not load, a certificate expired, not
 * yet valid, expiring within three weeks, not matching its key or not naming the server; free space
 * under the limit; a write rate that wears the card out within a year or five.
 */
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, type HearthConfig } from '../../src/config/config.js';
import type { GatewayStatus } from '../../src/admin/gateway-status.js';
import { checkKeys } from '../../src/cli/doctor/certificates.js';
import { checkDisk } from '../../src/cli/doctor/disk.js';
import type { Finding } from '../../src/cli/doctor/findings.js';

const DAY = 86_400_000;

function dataDir(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'hearth-doctor-unit-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A certificate for `name` (a DNS name or an IP), valid for `days` from now, and its key. */
function certificate(dir: string, label: string, name: string, days: number): { cert: string; key: string } {
  const cert = join(dir, `${label}.crt`);
  const key = join(dir, `${label}.key`);
  const san = /^[0-9.]+$/.test(name) ? `IP:${name}` : `DNS:${name}`;
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', String(days), '-subj', `/CN=${name}`, '-addext', `subjectAltName=${san}`], { stdio: 'ignore' });
  return { cert, key };
}

function configFor(dir: string, serverName: string, tls: { cert: string; key: string }): HearthConfig {
  const config = loadConfig({ dataDir: dir, env: { HEARTH_SERVER_NAME: serverName } });
  return { ...config, federation: { ...config.federation, tlsCertificatePath: tls.cert, tlsPrivateKeyPath: tls.key } };
}

const tlsFindings = (findings: Finding[]) => findings.filter((f) => f.check === 'tls').map((f) => `${f.level}: ${f.message}`);

test('certificate dates: ok, expiring within three weeks, expired, not yet valid', async (t) => {
  const dir = dataDir(t);
  const pair = certificate(dir, 'le', 'home.test', 30);
  const config = configFor(dir, 'home.test', pair);
  const at = async (offsetMs: number) => tlsFindings(await checkKeys({ config, running: undefined, now: () => Date.now() + offsetMs }));
  const now = await at(0);
  t.is(now.length, 1);
  t.regex(now[0]!, /^ok: the federation certificate \(configured\) is valid until /);
  const soon = await at(20 * DAY);
  t.regex(soon[0]!, /^warning: the federation certificate expires on \S+, in (9|10) days$/);
  const expired = await at(31 * DAY);
  t.regex(expired[0]!, /^error: the federation certificate expired on /);
  const early = await at(-2 * DAY);
  t.regex(early[0]!, /^error: the federation certificate is valid only from \S+ \(is the clock wrong\?\)$/);
});

test('a certificate that does not match its key, or does not name the server', async (t) => {
  const dir = dataDir(t);
  const a = certificate(dir, 'a', 'home.test', 90);
  const b = certificate(dir, 'b', 'other.test', 90);
  const mismatched = tlsFindings(await checkKeys({ config: configFor(dir, 'home.test', { cert: a.cert, key: b.key }), running: undefined, now: Date.now }));
  t.true(mismatched.some((f) => /^error: the federation certificate does not match its private key .*b\.key$/.test(f)), mismatched.join('\n'));
  const unnamed = tlsFindings(await checkKeys({ config: configFor(dir, 'home.test', b), running: undefined, now: Date.now }));
  t.true(unnamed.some((f) => /^warning: the federation certificate does not name home\.test \(it is for DNS:other\.test\)$/.test(f)), unnamed.join('\n'));
  const ip = certificate(dir, 'ip', '10.0.0.2', 90);
  const byIp = tlsFindings(await checkKeys({ config: configFor(dir, '10.0.0.2:8448', ip), running: undefined, now: Date.now }));
  t.deepEqual(byIp.filter((f) => !f.startsWith('ok')), [], 'an IP server name is matched against the IP SAN');
});

test('a signing key that does not load is an error; none yet is the first start\'s to make', async (t) => {
  const dir = dataDir(t);
  const config = loadConfig({ dataDir: dir, env: {} });
  const none = (await checkKeys({ config, running: undefined, now: Date.now })).find((f) => f.check === 'keys')!;
  t.is(none.level, 'info');
  writeFileSync(join(dir, 'signing.key'), 'rsa not-a-key\n');
  const bad = (await checkKeys({ config, running: undefined, now: Date.now })).find((f) => f.check === 'keys')!;
  t.is(bad.level, 'error');
  t.regex(bad.message, /^the signing key does not load: .*signing\.key is not an ed25519 signing key$/);
  t.regex(bad.fix!, /restore signing\.key from a backup/);
});

test('disk: free space under the limit is an error; wear judged against 100 card capacities', async (t) => {
  const dir = dataDir(t);
  const config = loadConfig({ dataDir: dir, env: {} });
  const full = await checkDisk({ config: { ...config, storage: { ...config.storage, minFreeBytes: Number.MAX_SAFE_INTEGER } }, running: undefined, now: Date.now });
  t.like(full.find((f) => f.check === 'disk'), { level: 'error' });
  t.regex(full.find((f) => f.check === 'disk')!.message, /below storage\.min_free_bytes .* so the gateway refuses writes$/);

  const { statfsSync } = await import('node:fs');
  const fs = statfsSync(dir);
  const capacity = fs.blocks * fs.bsize;
  const running = (perDay: number, seconds: number) => ({ disk: { writtenPerDay: perDay, writeHistorySeconds: seconds } }) as unknown as GatewayStatus;
  const wear = async (perDay: number, seconds = 7 * 86_400) => (await checkDisk({ config, running: running(perDay, seconds), now: Date.now })).find((f) => f.check === 'wear')!;
  // 100 capacities at a rate that uses them up in half a year, three years, fifty years.
  t.is((await wear((capacity * 100) / 182)).level, 'error');
  t.is((await wear((capacity * 100) / (3 * 365))).level, 'warning');
  const fine = await wear((capacity * 100) / (50 * 365));
  t.is(fine.level, 'ok');
  t.regex(fine.message, /lasts about 50\.0 years at this rate, assuming it takes 100 times its capacity in writes/);
  t.is((await wear((capacity * 100) / 182, 600)).level, 'info', 'ten minutes of history judge nothing');
});
