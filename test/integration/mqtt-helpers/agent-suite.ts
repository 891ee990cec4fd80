/**
 * The set-up of a test file that runs the project's device agent against the real gateway: one
 * gateway, an admin person (`alice`) and a work folder for the file, and the agent as a child
 * process whose output is kept for the failure log. Registers the file's ava hooks.
 */
import test from 'ava';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT, startMqttGateway, type MqttGateway } from './gateway.js';
import { startPerson, type Person } from './matrix.js';

export interface AgentSuite {
  gateway: MqttGateway;
  alice: Person;
  workDir: string;
  /** Everything the agent printed so far. */
  agentLog(): string;
  /** Starts `devices/agent/main.ts ARGS` from the repository (one agent per file). */
  startAgent(args: string[]): ChildProcess;
  /** Stops the agent with SIGTERM (it says goodbye and keeps its queue); resolves once it exited. */
  stopAgent(): Promise<void>;
}

export function agentSuite(tmpPrefix: string): AgentSuite {
  let agent: ChildProcess | undefined;
  let log = '';
  const suite = {
    workDir: mkdtempSync(join(tmpdir(), tmpPrefix)),
    agentLog: () => log,
    startAgent(args: string[]): ChildProcess {
      agent = spawn(process.execPath, ['--import', 'tsx', 'devices/agent/main.ts', ...args], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
      agent.stdout!.on('data', (c: Buffer) => (log += c.toString()));
      agent.stderr!.on('data', (c: Buffer) => (log += c.toString()));
      return agent;
    },
    async stopAgent(): Promise<void> {
      const running = agent;
      if (!running || running.exitCode !== null || running.signalCode !== null) return;
      const exited = new Promise<void>((done) => running.once('exit', () => done()));
      running.kill('SIGTERM');
      await exited;
    },
  } as AgentSuite;

  test.before(async () => {
    suite.gateway = await startMqttGateway();
    suite.alice = await startPerson(suite.gateway, 'alice', 'alice password', { admin: true });
  });

  test.afterEach.always((t) => {
    if (!t.passed) t.log(suite.gateway.server.output(), log);
  });

  test.after.always(async () => {
    await suite.stopAgent();
    await suite.gateway?.stop();
    suite.alice?.client.stopClient();
    rmSync(suite.workDir, { recursive: true, force: true });
  });
  return suite;
}
