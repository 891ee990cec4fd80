/**
 * One fuzz campaign against the real gateway process: a fresh gateway (open registration, fast
 * bridge throttle, one raw rule), the Client-Server and MQTT targets sharing it, and the report. The
 * quick run in `make test` (fuzz.test.ts) and the long one in `make proof` (scripts/proof/fuzz.ts)
 * both come here; a federation target joins the list once federation exists.
 */
import { readFileSync } from 'node:fs';
import { FAST_BRIDGE_YAML, startMqttGateway } from '../integration/mqtt-helpers/gateway.js';
import { ClientServerTarget } from './targets/client-server.js';
import { FUZZ_RAW_RULE_YAML, MqttTarget } from './targets/mqtt.js';
import { runFuzz, type FuzzReport, type FuzzTarget } from './runner.js';

export interface CampaignOptions {
  seed: number;
  count: number;
  concurrency?: number;
  /** No answer within this is a hang. Generous: the 2-core CI machine runs other gateways at once. */
  hangBoundMs?: number;
  surfaces?: Array<'client-server' | 'mqtt'>;
  onProgress?: (done: number, report: FuzzReport) => void;
  progressEvery?: number;
  healthEvery?: number;
}

export interface CampaignResult {
  report: FuzzReport;
  /** The gateway's output tail (for a crash or a 5xx: its logged stack). */
  output: string;
  /** RSS of the gateway when the campaign ended, from /proc (Linux). */
  rssKb?: number;
}

export async function runCampaign(opts: CampaignOptions): Promise<CampaignResult> {
  // Rate limits off: at Synapse's defaults (rc_message 0.2/s) nearly every send and state input would
  // be a 429 and never reach the code behind it; the limits have their own tests.
  const gateway = await startMqttGateway({ configYaml: FAST_BRIDGE_YAML + FUZZ_RAW_RULE_YAML, env: { HEARTH_RATE_LIMITS: 'off' } });
  const server = gateway.server;
  const pid = server.pid();
  try {
    const surfaces = opts.surfaces ?? ['client-server', 'mqtt'];
    const hangBoundMs = opts.hangBoundMs ?? 15_000;
    const targets: Array<FuzzTarget<any>> = [];
    if (surfaces.includes('client-server')) {
      targets.push(new ClientServerTarget({ host: '127.0.0.1', port: server.port, serverName: server.serverName, hangBoundMs }));
    }
    if (surfaces.includes('mqtt')) {
      await gateway.addUser('fuzzadmin', 'fuzz admin password', { admin: true });
      const login = await fetch(`${server.baseUrl}/_matrix/client/v3/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ type: 'm.login.password', identifier: { type: 'm.id.user', user: 'fuzzadmin' }, password: 'fuzz admin password' }),
      });
      const adminToken = ((await login.json()) as { access_token: string }).access_token;
      targets.push(new MqttTarget({ host: '127.0.0.1', mqttPort: server.mqttPort, httpPort: server.port, addDevice: (name) => gateway.addDevice(name), adminToken, hangBoundMs }));
    }
    const alive = () => server.pid() === pid && processRuns(pid);
    const report = await runFuzz(targets, {
      seed: opts.seed,
      count: opts.count,
      concurrency: opts.concurrency ?? 4,
      alive,
      onProgress: opts.onProgress,
      progressEvery: opts.progressEvery,
      healthEvery: opts.healthEvery,
    });
    return { report, output: server.output(), rssKb: rssKb(pid) };
  } catch (err) {
    // A harness step itself failed (setup, say): what the gateway logged explains it.
    throw new Error(`${(err as Error).stack}\n--- gateway output ---\n${server.output().slice(-6000)}`);
  } finally {
    await gateway.stop();
  }
}

function processRuns(pid: number | undefined): boolean {
  if (pid === undefined) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function rssKb(pid: number | undefined): number | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = /VmRSS:\s+(\d+) kB/.exec(status);
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}
