/**
 * Mosquitto's own programs as MQTT peers of the gateway: `mosquitto_pub` and `mosquitto_sub` (Debian
 * `mosquitto-clients`) as devices and listeners, and a real `mosquitto` broker for external-broker
 * mode. Every child is killed by pid when its test ends or the test process exits.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../helpers/server.js';

const MOSQUITTO_PUB = '/usr/bin/mosquitto_pub';
const MOSQUITTO_SUB = '/usr/bin/mosquitto_sub';
const MOSQUITTO = '/usr/sbin/mosquitto';
const STDBUF = '/usr/bin/stdbuf';

const children = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

export interface BrokerAddress {
  port: number;
  username?: string;
  password?: string;
}

export interface PubResult {
  code: number;
  stdout: string;
  stderr: string;
}

function connectionArgs(broker: BrokerAddress): string[] {
  const args = ['-h', '127.0.0.1', '-p', String(broker.port)];
  if (broker.username !== undefined) args.push('-u', broker.username);
  if (broker.password !== undefined) args.push('-P', broker.password);
  return args;
}

export interface PubOptions {
  qos?: 0 | 1;
  retain?: boolean;
  /** Client id (`-i`). */
  id?: string;
}

/**
 * One `mosquitto_pub` run; resolves with its exit code and output, never rejects on a refusal (the
 * tests assert those). A Buffer payload goes through stdin (`-s`), so any bytes can be sent.
 */
export function mosquittoPub(broker: BrokerAddress, topic: string, payload: string | Buffer | null, opts: PubOptions = {}): Promise<PubResult> {
  const args = [...connectionArgs(broker), '-t', topic, '-q', String(opts.qos ?? 1)];
  if (opts.retain) args.push('-r');
  if (opts.id) args.push('-i', opts.id);
  if (payload === null) args.push('-n');
  else if (typeof payload === 'string') args.push('-m', payload);
  else args.push('-s');
  return new Promise((done) => {
    const child = execFile(MOSQUITTO_PUB, args, { timeout: 15_000, encoding: 'utf8' }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      done({ code, stdout, stderr });
    });
    if (Buffer.isBuffer(payload)) child.stdin!.end(payload);
  });
}

/** `mosquitto_pub` that must succeed. */
export async function publish(broker: BrokerAddress, topic: string, payload: string | Buffer | null, opts: PubOptions = {}): Promise<void> {
  const res = await mosquittoPub(broker, topic, payload, opts);
  if (res.code !== 0) throw new Error(`mosquitto_pub ${topic} exited ${res.code}: ${res.stderr}`);
}

export interface ReceivedMessage {
  topic: string;
  payload: string;
  qos: number;
  retained: boolean;
}

const MESSAGE_PREFIX = 'MSG\t';

/**
 * A running `mosquitto_sub -d` that records every message. `-d` prints the SUBACK, which is how
 * `subscribed` knows the subscription is in place; messages are printed with a `-F` format.
 */
export class MosquittoSub {
  readonly messages: ReceivedMessage[] = [];
  /** The SUBACK codes line (`Subscribed (mid: 1): 0`), once seen. */
  subackLine: string | undefined;
  private output = '';
  private readonly exited: Promise<number | null>;
  private readonly child: ChildProcess;

  constructor(broker: BrokerAddress, filters: string[], opts: { qos?: 0 | 1; id?: string; persistent?: boolean; extra?: string[] } = {}) {
    const args = [...connectionArgs(broker), '-d', '-F', `${MESSAGE_PREFIX}%q\\t%r\\t%t\\t%p`, '-q', String(opts.qos ?? 1)];
    if (opts.id) args.push('-i', opts.id);
    if (opts.persistent) args.push('-c');
    for (const f of filters) args.push('-t', f);
    args.push(...(opts.extra ?? []));
    // stdout is a pipe, so libc would buffer it in blocks: line buffering makes each line arrive as printed.
    this.child = spawn(STDBUF, ['-oL', MOSQUITTO_SUB, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(this.child);
    let partial = '';
    this.child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      this.output += chunk;
      partial += chunk;
      let nl: number;
      while ((nl = partial.indexOf('\n')) >= 0) {
        this.line(partial.slice(0, nl));
        partial = partial.slice(nl + 1);
      }
    });
    this.child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (this.output += chunk));
    this.exited = new Promise((done) =>
      this.child.once('exit', (code) => {
        children.delete(this.child);
        done(code);
      }),
    );
  }

  private line(line: string): void {
    if (line.startsWith(MESSAGE_PREFIX)) {
      const [qos, retained, topic, ...payload] = line.slice(MESSAGE_PREFIX.length).split('\t');
      this.messages.push({ topic: topic!, payload: payload.join('\t'), qos: Number(qos), retained: retained === '1' });
    } else if (line.startsWith('Subscribed (mid:')) {
      this.subackLine = line;
    }
  }

  /** Everything the program printed (debug lines included), for failure messages. */
  log(): string {
    return this.output;
  }

  /** Resolves once the broker acknowledged the subscription. */
  async subscribed(timeoutMs = 10_000): Promise<void> {
    await waitUntil(() => this.subackLine !== undefined, `mosquitto_sub SUBACK\n${this.output}`, timeoutMs);
  }

  async next(predicate: (m: ReceivedMessage) => boolean, what: string, timeoutMs = 10_000): Promise<ReceivedMessage> {
    await waitUntil(() => this.messages.some(predicate), `${what}; received: ${JSON.stringify(this.messages)}`, timeoutMs);
    return this.messages.find(predicate)!;
  }

  /** The exit code once the program ended by itself. */
  exitCode(): Promise<number | null> {
    return this.exited;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
    await this.exited;
  }
}

export interface MosquittoBroker {
  port: number;
  stop(): Promise<void>;
}

/** A real `mosquitto` on a free loopback port, anonymous clients allowed, configured by a temp file. */
export async function startMosquitto(): Promise<MosquittoBroker> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'hearth-mosquitto-'));
  const conf = join(dir, 'mosquitto.conf');
  writeFileSync(conf, `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\n`);
  const child = spawn(MOSQUITTO, ['-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let output = '';
  child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
  const exited = new Promise<void>((done) =>
    child.once('exit', () => {
      children.delete(child);
      done();
    }),
  );
  await waitUntilAsync(() => canConnect(port), `mosquitto listening on ${port}\n${output}`, 10_000);
  return {
    port,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      done(true);
    });
    socket.once('error', () => done(false));
  });
}

async function waitUntil(condition: () => boolean, what: string, timeoutMs: number): Promise<void> {
  await waitUntilAsync(async () => condition(), what, timeoutMs);
}

async function waitUntilAsync(condition: () => Promise<boolean>, what: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((done) => setTimeout(done, 25));
  }
}
