/**
 * A byte-counting proxy in front of a server's federation listener (issue 12, Figures: bytes on the
 * wire). The server is named `127.0.0.1:<proxy port>`, so every other server reaches it through
 * here; its real listener is on another port. The proxy ends the senders' TLS itself (with its own
 * certificate: the peers here do not verify certificates) and forwards the plain stream over a new
 * TLS connection, so it counts both
 *  - wire bytes: the TLS records each way on the sender's connection, handshakes included, and
 *  - HTTP bytes: request and response as HTTP/1.1 (request line, headers, body, chunk framing),
 * per endpoint (`send`, `get_missing_events`, `key`, ...), and notes the `Accept-Encoding` the
 * senders offer (can a response be compressed?). Every server gets the same certificate through
 * the proxy, so handshakes cost the same whoever is behind it.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect, createSecureContext, TLSSocket, type SecureContext } from 'node:tls';

export interface EndpointBytes {
  requests: number;
  /** HTTP bytes from the connecting server (its requests). */
  requestBytes: number;
  /** HTTP bytes back to it (the responses). */
  responseBytes: number;
}

export interface WireCount {
  connections: number;
  /** TLS bytes on the connecting servers' sockets, both directions. */
  wireBytes: number;
  /** HTTP/1.1 bytes (requests and responses), both directions. */
  httpBytes: number;
  requests: number;
  byEndpoint: Record<string, EndpointBytes>;
}

/** `after - before`, endpoint by endpoint. */
export function countSince(after: WireCount, before: WireCount): WireCount {
  const byEndpoint: Record<string, EndpointBytes> = {};
  for (const [name, a] of Object.entries(after.byEndpoint)) {
    const b = before.byEndpoint[name] ?? { requests: 0, requestBytes: 0, responseBytes: 0 };
    const d = { requests: a.requests - b.requests, requestBytes: a.requestBytes - b.requestBytes, responseBytes: a.responseBytes - b.responseBytes };
    if (d.requests !== 0 || d.requestBytes !== 0 || d.responseBytes !== 0) byEndpoint[name] = d;
  }
  return {
    connections: after.connections - before.connections,
    wireBytes: after.wireBytes - before.wireBytes,
    httpBytes: after.httpBytes - before.httpBytes,
    requests: after.requests - before.requests,
    byEndpoint,
  };
}

/** The sum of several proxies' counts (every listener of a scenario). */
export function sumCounts(counts: WireCount[]): WireCount {
  const zero: WireCount = { connections: 0, wireBytes: 0, httpBytes: 0, requests: 0, byEndpoint: {} };
  return counts.reduce((sum, c) => {
    const byEndpoint = { ...sum.byEndpoint };
    for (const [name, e] of Object.entries(c.byEndpoint)) {
      const s = byEndpoint[name] ?? { requests: 0, requestBytes: 0, responseBytes: 0 };
      byEndpoint[name] = { requests: s.requests + e.requests, requestBytes: s.requestBytes + e.requestBytes, responseBytes: s.responseBytes + e.responseBytes };
    }
    return { connections: sum.connections + c.connections, wireBytes: sum.wireBytes + c.wireBytes, httpBytes: sum.httpBytes + c.httpBytes, requests: sum.requests + c.requests, byEndpoint };
  }, zero);
}

/** `send`, `get_missing_events`, `key`, ...: the endpoint of a request path, without its parameters. */
export function endpointOf(path: string): string {
  const segments = path.split('?')[0]!.split('/');
  // /_matrix/federation/v1/send/{txn}, /_matrix/key/v2/server, /_matrix/federation/v1/event/{id}
  if (segments[2] === 'key') return 'key';
  return segments[4] ?? path;
}

const REQUEST_LINE = /(GET|PUT|POST|DELETE|HEAD|OPTIONS) (\S+) HTTP\/1\.[01]\r\n([\s\S]*?)\r\n\r\n/g;

let certificate: { context: SecureContext; dir: string } | undefined;

/** One self-signed certificate for every proxy of the run (ECDSA P-256, like Hearth's own). */
function proxyCertificate(): SecureContext {
  if (certificate) return certificate.context;
  const dir = mkdtempSync(join(tmpdir(), 'hearth-wire-bytes-'));
  const [key, cert] = [join(dir, 'key.pem'), join(dir, 'cert.pem')];
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', cert], { stdio: 'ignore' });
  certificate = { context: createSecureContext({ key: readFileSync(key), cert: readFileSync(cert) }), dir };
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  return certificate.context;
}

export class WireBytesProxy {
  private readonly count: WireCount = { connections: 0, wireBytes: 0, httpBytes: 0, requests: 0, byEndpoint: {} };
  /** Live connections: their raw socket and how to add their wire bytes so far to the count. */
  private readonly live = new Map<Socket, () => void>();
  /** Every `Accept-Encoding` a connecting server sent, with how many requests carried it. */
  readonly acceptEncodings = new Map<string, number>();

  private constructor(
    private readonly server: Server,
    readonly port: number,
    private readonly targetPort: number,
  ) {
    server.on('connection', (raw) => this.relay(raw));
  }

  /** A proxy on `port` (127.0.0.1) forwarding to the TLS listener on `targetPort`. */
  static async start(port: number, targetPort: number): Promise<WireBytesProxy> {
    const server = createServer();
    const proxy = new WireBytesProxy(server, port, targetPort);
    await new Promise<void>((done, fail) => {
      server.once('error', fail);
      server.listen(port, '127.0.0.1', () => done());
    });
    return proxy;
  }

  /** The counts so far (a copy: subtract two with `countSince`). */
  snapshot(): WireCount {
    for (const settle of this.live.values()) settle();
    return { ...this.count, byEndpoint: Object.fromEntries(Object.entries(this.count.byEndpoint).map(([k, v]) => [k, { ...v }])) };
  }

  private endpoint(name: string): EndpointBytes {
    return (this.count.byEndpoint[name] ??= { requests: 0, requestBytes: 0, responseBytes: 0 });
  }

  private relay(raw: Socket): void {
    this.count.connections++;
    // Wire bytes are counted on the raw socket, below TLS: added when it closes, and by every
    // snapshot while it lives (peers keep connections open for minutes).
    let countedRead = 0;
    let countedWritten = 0;
    const settleWire = () => {
      this.count.wireBytes += raw.bytesRead - countedRead + (raw.bytesWritten - countedWritten);
      countedRead = raw.bytesRead;
      countedWritten = raw.bytesWritten;
    };
    this.live.set(raw, settleWire);
    const tls = new TLSSocket(raw, { isServer: true, secureContext: proxyCertificate() });
    const upstream = tlsConnect({ host: '127.0.0.1', port: this.targetPort, rejectUnauthorized: false });
    let current = 'unknown';
    let pending = '';
    tls.on('data', (chunk: Buffer) => {
      // Find request lines (and their headers) in the plain stream; the bytes of a chunk belong to the
      // request it starts or continues.
      pending = (pending + chunk.toString('latin1')).slice(-16_384);
      REQUEST_LINE.lastIndex = 0;
      let match: RegExpExecArray | null;
      let consumed = 0;
      while ((match = REQUEST_LINE.exec(pending)) !== null) {
        current = endpointOf(match[2]!);
        this.count.requests++;
        this.endpoint(current).requests++;
        const encoding = /^accept-encoding:\s*(.*)$/im.exec(match[3]!)?.[1]?.trim() ?? '(none)';
        this.acceptEncodings.set(encoding, (this.acceptEncodings.get(encoding) ?? 0) + 1);
        consumed = REQUEST_LINE.lastIndex;
      }
      pending = pending.slice(consumed);
      this.count.httpBytes += chunk.length;
      this.endpoint(current).requestBytes += chunk.length;
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      this.count.httpBytes += chunk.length;
      this.endpoint(current).responseBytes += chunk.length;
      tls.write(chunk);
    });
    const close = () => {
      if (this.live.delete(raw)) settleWire();
      tls.destroy();
      upstream.destroy();
    };
    tls.on('end', () => upstream.end());
    upstream.on('end', () => tls.end());
    for (const s of [tls, upstream, raw]) {
      s.on('error', close);
      s.on('close', close);
    }
  }

  async stop(): Promise<void> {
    for (const raw of this.live.keys()) raw.destroy();
    await new Promise<void>((done) => this.server.close(() => done()));
  }
}
