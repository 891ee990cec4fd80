/**
 * Brokers for the device tests: an in-process aedes that can be killed abruptly (every socket
 * destroyed) and restarted on the same port, recording what devices publish; and a real Mosquitto.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type Server, type Socket } from 'node:net';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Aedes } from 'aedes';

export interface ReceivedMessage {
  topic: string;
  payload: string;
  retain: boolean;
}

export class KillableAedes {
  readonly received: ReceivedMessage[] = [];
  private server: Server | undefined;
  private broker: Aedes | undefined;
  private readonly sockets = new Set<Socket>();

  constructor(readonly port: number) {}

  async start(): Promise<void> {
    const broker = await Aedes.createBroker({ drainTimeout: 1000, maxClientsIdLength: 64 });
    broker.on('publish', (packet, client) => {
      if (client) this.received.push({ topic: packet.topic, payload: packet.payload.toString(), retain: packet.retain });
    });
    const server = createServer((socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
      broker.handle(socket);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.server = server;
    this.broker = broker;
  }

  /** Drops every connection at once, as a crash would, and stops listening. */
  async kill(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    await new Promise<void>((resolve) => (this.broker ? this.broker.close(() => resolve()) : resolve()));
    this.server = undefined;
    this.broker = undefined;
  }
}

/** A free TCP port on loopback. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/** Mosquitto on loopback with anonymous access, no persistence. */
export class MosquittoProcess {
  private child: ChildProcess | undefined;
  private readonly configPath: string;

  constructor(readonly port: number) {
    const dir = mkdtempSync(join(tmpdir(), 'hearth-mosquitto-'));
    this.configPath = join(dir, 'mosquitto.conf');
    writeFileSync(this.configPath, `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\n`);
  }

  async start(): Promise<void> {
    const child = spawn('mosquitto', ['-c', this.configPath], { stdio: ['ignore', 'ignore', 'pipe'] });
    this.child = child;
    await waitFor(async () => {
      if (child.exitCode !== null) throw new Error(`mosquitto exited with ${child.exitCode}`);
      return canConnect(this.port);
    }, 5000);
  }

  /** SIGKILL: the broker vanishes without closing anything. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }
}

async function canConnect(port: number): Promise<boolean> {
  const { connect } = await import('node:net');
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Polls `condition` every 20 ms until it holds, or throws after `timeoutMs`. */
export async function waitFor(condition: () => boolean | Promise<boolean>, timeoutMs: number, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
