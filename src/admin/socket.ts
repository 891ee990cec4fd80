/**
 * The local admin socket: how `hearth` commands reach a running gateway, since LevelDB admits one
 * process and the gateway holds the database. A unix socket in the data directory, mode 0600 so only
 * the gateway's own user can use it. Protocol: newline-delimited JSON; each request line
 * `{ "op": "...", ... }` gets one response line `{ "ok": true, "result": ... }` or
 * `{ "ok": false, "error": "...", "errcode"?: "..." }`. A long operation (a backup) may send
 * `{ "progress": ... }` lines before its response, which also keep the client's idle timeout from
 * firing.
 */
import { chmod, rm } from 'node:fs/promises';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';

/** A request names its operation; the other fields belong to that operation. */
export interface AdminRequest {
  op: string;
}

/**
 * Handlers may declare their own request type (e.g. `{ op: 'user.add'; localpart: string }`):
 * the method form makes the parameter bivariant, so such handlers fit without casts.
 */
type AdminHandler = { handle(request: AdminRequest, progress: (report: unknown) => void): Promise<unknown> }['handle'];
export type AdminHandlers = Record<string, AdminHandler>;

type AdminResponse = { ok: true; result: unknown } | { ok: false; error: string; errcode?: string };

/** Requests are small; a line longer than this is refused rather than buffered without bound. */
const MAX_LINE_BYTES = 64 * 1024;

export function adminSocketPath(dataDir: string): string {
  return join(dataDir, 'admin.sock');
}

/** An error reported by the gateway over the admin socket. */
export class AdminSocketError extends Error {
  constructor(
    message: string,
    readonly errcode?: string,
  ) {
    super(message);
    this.name = 'AdminSocketError';
  }
}

/** Serves the admin socket until closed. A socket file left by a crashed gateway is replaced. */
export async function startAdminSocket(path: string, handlers: AdminHandlers): Promise<{ close(): Promise<void> }> {
  // The database lock already guarantees one gateway per data directory, so an existing file is stale.
  await rm(path, { force: true });
  const server = createServer((socket) => serveConnection(socket, handlers));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => {
      server.off('error', reject);
      resolve();
    });
  });
  await chmod(path, 0o600);
  return {
    close: () => closeServer(server, path),
  };
}

function serveConnection(socket: Socket, handlers: AdminHandlers): void {
  let buffered = '';
  socket.setEncoding('utf8');
  socket.on('error', () => socket.destroy());
  socket.on('data', (chunk: string) => {
    buffered += chunk;
    if (Buffer.byteLength(buffered) > MAX_LINE_BYTES && !buffered.includes('\n')) {
      socket.end(`${JSON.stringify({ ok: false, error: 'request too large' } satisfies AdminResponse)}\n`);
      return;
    }
    let newline: number;
    while ((newline = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
      if (line.trim() === '') continue;
      const progress = (report: unknown) => {
        if (!socket.destroyed) socket.write(`${JSON.stringify({ progress: report })}\n`);
      };
      void answer(line, handlers, progress).then((response) => {
        if (!socket.destroyed) socket.write(`${JSON.stringify(response)}\n`);
      });
    }
  });
}

async function answer(line: string, handlers: AdminHandlers, progress: (report: unknown) => void): Promise<AdminResponse> {
  let request: AdminRequest;
  try {
    request = JSON.parse(line) as AdminRequest;
  } catch {
    return { ok: false, error: 'request is not JSON' };
  }
  const op: unknown = request?.op;
  const handler = typeof op === 'string' && Object.hasOwn(handlers, op) ? handlers[op] : undefined;
  if (!handler) return { ok: false, error: `unknown operation ${String(op)}` };
  try {
    return { ok: true, result: await handler(request, progress) };
  } catch (err) {
    const e = err as { message?: string; errcode?: string };
    return { ok: false, error: e.message ?? String(err), ...(typeof e.errcode === 'string' ? { errcode: e.errcode } : {}) };
  }
}

async function closeServer(server: Server, path: string): Promise<void> {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await rm(path, { force: true });
}

/**
 * Sends one request to the gateway and returns its result; throws AdminSocketError on failure.
 * `timeoutMs` is an idle timeout: progress lines (`onProgress`) restart it.
 */
export function callAdminSocket(path: string, request: AdminRequest, timeoutMs = 15_000, onProgress?: (report: unknown) => void): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(path);
    let buffered = '';
    const fail = (err: Error) => {
      socket.destroy();
      reject(err);
    };
    socket.setEncoding('utf8');
    socket.setTimeout(timeoutMs, () => fail(new AdminSocketError('the gateway did not answer in time')));
    socket.on('error', (err) => fail(new AdminSocketError(`cannot reach the gateway at ${path}: ${err.message}`)));
    socket.on('connect', () => socket.write(`${JSON.stringify(request)}\n`));
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      let newline: number;
      while ((newline = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        let response: AdminResponse | { progress: unknown };
        try {
          response = JSON.parse(line) as AdminResponse | { progress: unknown };
        } catch {
          fail(new AdminSocketError('the gateway sent an unreadable answer'));
          return;
        }
        if (!('ok' in response)) {
          onProgress?.(response.progress);
          continue;
        }
        socket.end();
        if (response.ok) resolve(response.result);
        else reject(new AdminSocketError(response.error, response.errcode));
        return;
      }
    });
  });
}
