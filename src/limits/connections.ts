/**
 * Open connections are capped below the process's file-descriptor limit (`ulimit -n`): every socket
 * is a descriptor, and so is every file LevelDB opens. Without a cap, a flood of connections took
 * the last descriptors and LevelDB's next table open failed with EMFILE, which LevelDB latches
 * (storage/storage-health.ts). One gate counts HTTP (with MQTT over WebSocket) and MQTT TCP
 * connections together; past the cap a new connection is closed at once, logged once per episode.
 */
import { readFileSync } from 'node:fs';
import type { Server } from 'node:net';
import type { Socket } from 'node:net';

/** Descriptors kept for everything that is not a client connection: LevelDB's table files (64), its log and manifest, the telemetry journal, media files, outgoing HTTP (pushers, federation), the admin socket. */
export const DESCRIPTOR_RESERVE = 192;
/** Without a known limit: Linux's usual soft default. */
const FALLBACK_DESCRIPTOR_LIMIT = 1024;

/** The soft limit on open files of this process (Linux: /proc/self/limits), or undefined. */
export function descriptorLimit(limitsFile = '/proc/self/limits'): number | undefined {
  try {
    const line = readFileSync(limitsFile, 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max open files'));
    const soft = line?.slice('Max open files'.length).trim().split(/\s+/)[0];
    if (soft === undefined || soft === 'unlimited') return undefined;
    const n = Number(soft);
    return Number.isInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

/** `connections.max` when set, else the descriptor limit minus the reserve (at least 16). */
export function connectionBudget(configured: number, limit = descriptorLimit()): number {
  if (configured > 0) return configured;
  return Math.max(16, (limit ?? FALLBACK_DESCRIPTOR_LIMIT) - DESCRIPTOR_RESERVE);
}

export interface ConnectionGateLogger {
  warn(obj: object, msg: string): void;
}

export class ConnectionGate {
  private open = 0;
  private refusing = false;
  private refusedCount = 0;

  constructor(
    readonly max: number,
    private readonly log?: ConnectionGateLogger,
  ) {}

  get current(): number {
    return this.open;
  }

  get refused(): number {
    return this.refusedCount;
  }

  /** Counts a new connection, or closes it when the cap is reached; true when admitted. */
  admit(socket: Socket): boolean {
    if (this.open >= this.max) {
      this.refusedCount++;
      if (!this.refusing) {
        this.refusing = true;
        this.log?.warn({ open: this.open, max: this.max }, 'connection cap reached: new connections are closed until some end (connections.max)');
      }
      socket.destroy();
      return false;
    }
    this.open++;
    socket.once('close', () => {
      this.open--;
      if (this.open < this.max * 0.9) this.refusing = false;
    });
    return true;
  }

  /** Gates every connection a server accepts, before its own handler sees it. */
  attach(server: Server): void {
    server.prependListener('connection', (socket: Socket) => void this.admit(socket));
  }
}
