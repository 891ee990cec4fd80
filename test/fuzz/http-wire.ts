/**
 * The fuzzer's HTTP client: node:http with a keep-alive agent, so that a request goes out exactly as
 * generated (fetch would resolve `..` segments and refuse some bytes), and each answer is bounded in
 * time: no answer within the bound is a hang.
 */
import { Agent, request } from 'node:http';

export interface WireRequest {
  method: string;
  /** Path and query, already percent-encoded as the generator wants them sent. */
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
}

export type WireOutcome =
  | { kind: 'answer'; status: number; text: string; elapsedMs: number }
  | { kind: 'hang'; elapsedMs: number }
  | { kind: 'connection-error'; message: string; elapsedMs: number };

/** At most this much of a response is kept (enough for any error body). */
const KEEP_RESPONSE_BYTES = 4096;

export class WireClient {
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 16 });

  constructor(
    private readonly host: string,
    private readonly port: number,
  ) {}

  /** `keepBytes`: how much of the response to keep (the fuzzer needs the start; the harness's own calls all of it). */
  send(req: WireRequest, boundMs: number, keepBytes = KEEP_RESPONSE_BYTES): Promise<WireOutcome> {
    const started = Date.now();
    return new Promise((resolve) => {
      let settled = false;
      const settle = (outcome: WireOutcome) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(outcome);
      };
      const headers: Record<string, string> = { ...req.headers };
      if (req.body) headers['content-length'] = String(req.body.length);
      let outgoing;
      try {
        outgoing = request({ host: this.host, port: this.port, method: req.method, path: req.path, headers, agent: this.agent });
      } catch (err) {
        // node:http refused to build the request (e.g. a byte it will not put in a path): not sent.
        resolve({ kind: 'connection-error', message: `not sent: ${(err as Error).message}`, elapsedMs: 0 });
        return;
      }
      const timer = setTimeout(() => {
        outgoing.destroy();
        settle({ kind: 'hang', elapsedMs: Date.now() - started });
      }, boundMs);
      outgoing.on('error', (err) => settle({ kind: 'connection-error', message: err.message, elapsedMs: Date.now() - started }));
      outgoing.on('response', (res) => {
        const chunks: Buffer[] = [];
        let kept = 0;
        res.on('data', (chunk: Buffer) => {
          if (kept < keepBytes) {
            chunks.push(chunk);
            kept += chunk.length;
          }
        });
        res.on('end', () =>
          settle({ kind: 'answer', status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8').slice(0, keepBytes), elapsedMs: Date.now() - started }),
        );
        res.on('error', (err) => settle({ kind: 'connection-error', message: err.message, elapsedMs: Date.now() - started }));
      });
      outgoing.end(req.body);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

const UNRESERVED = /[A-Za-z0-9\-._~]/;

/** Percent-encodes every byte of the UTF-8 form except unreserved ones (lone surrogates included: no URIError). */
export function percentEncode(value: string, keep: RegExp = UNRESERVED): string {
  let out = '';
  for (const ch of value) {
    if (ch.length === 1 && keep.test(ch)) out += ch;
    else for (const byte of Buffer.from(ch, 'utf8')) out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}
