/**
 * The federation HTTP client: X-Matrix-signed JSON requests to other servers over HTTPS
 * (server-server "API standards", "Request Authentication"), after resolving their names
 * (`resolver.ts`). One keep-alive agent for every destination; every request has a deadline and a
 * response size limit; response bodies go through the same JSON parser as the listeners' request
 * bodies (`http/json-body.ts`). Answers may come gzip-compressed (`compression.ts`): they are
 * decoded as they arrive and the size limit counts the decoded bytes. A failure is a
 * `FederationRequestError` saying what went wrong.
 *
 * Certificates are checked unless `verifyTls` is false (test setups with self-signed peers, like
 * Synapse's `federation_verify_certificates: false`).
 */
import { Agent, request as httpsRequest } from 'node:https';
import { Resolver } from 'node:dns/promises';
import type { IncomingHttpHeaders } from 'node:http';
import { Transform, type Readable } from 'node:stream';
import { parseJsonBody } from '../../http/json-body.js';
import type { SigningKey } from '../../core/types.js';
import type { ByteStream, FederationRequests, FederationStreams } from '../requests.js';
import { signRequest } from './x-matrix.js';
import type { ResolverPorts, ServerResolver, WellKnownAnswer } from './resolver.js';
import type { AddressPolicy } from './address-policy.js';
import { isIP } from 'node:net';
import { CLIENT_ACCEPT_ENCODING, decoderFor } from './compression.js';

export type Query = Record<string, string | string[]>;

/** `clock`: not sent, this server's clock is wrong (docs/federation.md "Clock"); retried like a network failure. */
export type FederationErrorKind = 'http' | 'network' | 'timeout' | 'too-large' | 'not-json' | 'resolution' | 'clock';

/** A request that did not get a 2xx JSON answer. `status`/`errcode` are set for `http` errors. */
export class FederationRequestError extends Error {
  override name = 'FederationRequestError';
  constructor(
    message: string,
    readonly destination: string,
    readonly kind: FederationErrorKind,
    readonly status?: number,
    readonly errcode?: string,
    /** The parsed error body, when there was one. */
    readonly body?: unknown,
  ) {
    super(message);
  }
}

export interface FederationRequestOptions {
  method: 'GET' | 'PUT' | 'POST' | 'DELETE';
  destination: string;
  /** From `/_matrix/...`, path segments already encoded. */
  path: string;
  query?: Query;
  body?: unknown;
  /** Default `FederationClientOptions.timeoutMs`. */
  timeoutMs?: number;
  /** Default `FederationClientOptions.maxResponseBytes`. */
  maxResponseBytes?: number;
}

export interface FederationClientOptions {
  serverName: string;
  /** The key requests are signed with (the keyring's current key). */
  signingKey: () => SigningKey;
  resolver: ServerResolver;
  verifyTls: boolean;
  /** Which addresses may be reached (private ranges refused by default); absent: any. */
  addressPolicy?: AddressPolicy;
  /** Whole-request deadline. Default 60 s. */
  timeoutMs?: number;
  /** Largest response body. Default 8 MB; callers expecting more (a big room's send_join) raise it. */
  maxResponseBytes?: number;
  userAgent?: string;
  /** Why the clock is wrong, or undefined when it is right: nothing is signed or sent while it is wrong. */
  clockProblem?: () => string | undefined;
}

const DEFAULT_TIMEOUT_MS = 60_000;
/** Only what looks like an error code (`M_FORBIDDEN`) is quoted in messages. */
const ERRCODE = /^[A-Z][A-Z0-9_]{1,63}$/;
const DEFAULT_MAX_RESPONSE_BYTES = 8 * 1024 * 1024;

export class FederationClient implements FederationRequests, FederationStreams {
  private readonly agent: Agent;

  constructor(private readonly opts: FederationClientOptions) {
    // Keep-alive: a transaction stream to a busy peer reuses its connection. Bounded per peer and
    // in total; idle connections close after a minute.
    this.agent = new Agent({ keepAlive: true, maxSockets: 8, maxTotalSockets: 128, maxFreeSockets: 2, timeout: 60_000, rejectUnauthorized: opts.verifyTls });
  }

  get(destination: string, path: string, query?: Query): Promise<unknown> {
    return this.request({ method: 'GET', destination, path, ...(query ? { query } : {}) });
  }

  put(destination: string, path: string, body: unknown, query?: Query): Promise<unknown> {
    return this.request({ method: 'PUT', destination, path, body, ...(query ? { query } : {}) });
  }

  post(destination: string, path: string, body: unknown, query?: Query): Promise<unknown> {
    return this.request({ method: 'POST', destination, path, body, ...(query ? { query } : {}) });
  }

  async request(req: FederationRequestOptions): Promise<unknown> {
    const { destination } = req;
    const result = await this.send(req, false);
    let body: unknown;
    try {
      body = parseJsonBody(result.body);
    } catch {
      if (result.status >= 200 && result.status < 300) throw new FederationRequestError(`${destination} answered ${req.method} ${req.path} with a body that is not JSON`, destination, 'not-json', result.status);
    }
    if (result.status < 200 || result.status >= 300) throw httpError(req, result.status, body);
    if (body === undefined) throw new FederationRequestError(`${destination} answered ${req.method} ${req.path} with an empty body`, destination, 'not-json', result.status);
    return body;
  }

  /**
   * For answers too big to hold at once (a big room's `send_join`): the 2xx body as a byte stream for
   * an incremental parser, cut with a `too-large` error past `maxResponseBytes` and a `timeout` error
   * past `timeoutMs` (both count the whole transfer). Other statuses throw as `request` does.
   */
  async stream(req: FederationRequestOptions): Promise<Readable & ByteStream> {
    const result = await this.send(req, true);
    if (result.stream) return result.stream;
    let body: unknown;
    try {
      body = parseJsonBody(result.body);
    } catch {
      body = undefined;
    }
    throw httpError(req, result.status, body);
  }

  private async send(req: FederationRequestOptions, stream: boolean): Promise<ExchangeResult> {
    const { destination } = req;
    // A signature made with a wrong clock is judged by the peer against its keys' validity; and
    // what we learn (keys fetched "now") would be judged wrongly by us. Nothing leaves until it is set.
    const clockProblem = this.opts.clockProblem?.();
    if (clockProblem !== undefined) throw new FederationRequestError(`not sent to ${destination}: this server's clock is not set (${clockProblem})`, destination, 'clock');
    let target;
    try {
      target = await this.opts.resolver.resolve(destination);
    } catch (err) {
      throw new FederationRequestError(`cannot resolve ${destination}: ${(err as Error).message}`, destination, 'resolution');
    }
    const uri = req.path + queryString(req.query);
    // "All POST and PUT endpoints require the requesting server to supply a request body containing
    // a (potentially empty) JSON object."
    const content = req.body !== undefined ? req.body : req.method === 'PUT' || req.method === 'POST' ? {} : undefined;
    const headers: Record<string, string> = {
      Host: target.hostHeader,
      Authorization: signRequest({ method: req.method, uri, origin: this.opts.serverName, destination, ...(content !== undefined ? { content } : {}) }, this.opts.signingKey()),
      Accept: 'application/json',
      // Answers may come gzip-compressed (decoded in `httpsExchange`, limits counting decoded bytes).
      'Accept-Encoding': CLIENT_ACCEPT_ENCODING,
      'User-Agent': this.opts.userAgent ?? 'Hearth',
    };
    let payload: Buffer | undefined;
    if (content !== undefined) {
      payload = Buffer.from(JSON.stringify(content), 'utf8');
      headers['Content-Type'] = 'application/json';
      headers['Content-Length'] = String(payload.length);
    }
    const result = await httpsExchange({
      host: target.connectHost,
      port: target.port,
      servername: target.tlsServerName,
      method: req.method,
      path: uri,
      headers,
      payload,
      timeoutMs: req.timeoutMs ?? this.opts.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      maxBytes: req.maxResponseBytes ?? this.opts.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES,
      destination,
      stream,
      agent: this.agent,
      rejectUnauthorized: this.opts.verifyTls,
      addressPolicy: this.opts.addressPolicy,
    }).catch((err: unknown) => {
      // A peer that moved or went away: resolve afresh next time.
      if (err instanceof FederationRequestError && (err.kind === 'network' || err.kind === 'timeout')) this.opts.resolver.forget(destination);
      throw err;
    });
    return result;
  }

  /** Closes idle connections (at shutdown). */
  close(): void {
    this.agent.destroy();
  }
}

/** The typed error of a non-2xx answer, with the errcode of its `{errcode, error}` body when it has one. */
function httpError(req: FederationRequestOptions, status: number, body: unknown): FederationRequestError {
  const errcode = typeof (body as { errcode?: unknown } | undefined)?.errcode === 'string' ? (body as { errcode: string }).errcode : undefined;
  const error = typeof (body as { error?: unknown } | undefined)?.error === 'string' ? (body as { error: string }).error : '';
  return new FederationRequestError(
    `${req.destination} answered ${req.method} ${req.path} with ${status}${errcode && ERRCODE.test(errcode) ? ` ${errcode}` : ''}${error ? `: ${error.slice(0, 200)}` : ''}`,
    req.destination,
    'http',
    status,
    errcode,
    body,
  );
}

interface ExchangeResult {
  status: number;
  /** The whole body (empty when streamed). */
  body: Buffer;
  headers: IncomingHttpHeaders;
  /** The 2xx body as it arrives, when a stream was asked for. */
  stream?: Readable;
}

/**
 * One HTTPS request with a deadline and a body limit; shared by the client and the well-known fetch.
 * With `stream`, a 2xx body is handed over as it arrives (limit and deadline still apply); other
 * answers are read whole, as their bodies are small errors. A gzip body (`Content-Encoding: gzip`)
 * is decoded on the way: the limit applies to the bytes on the wire and to the decoded bytes, and a
 * truncated or corrupt one is a `not-json` error.
 */
function httpsExchange(r: {
  host: string;
  port: number;
  servername: string | undefined;
  method: string;
  path: string;
  headers: Record<string, string>;
  payload?: Buffer | undefined;
  timeoutMs: number;
  maxBytes: number;
  destination: string;
  agent: Agent | undefined;
  rejectUnauthorized: boolean;
  addressPolicy: AddressPolicy | undefined;
  stream?: boolean;
}): Promise<ExchangeResult> {
  if (r.addressPolicy && isIP(r.host) !== 0 && !r.addressPolicy.allows(r.host)) {
    return Promise.reject(new FederationRequestError(`${r.destination} is at ${r.host}, an address federation may not reach (federation.ip_range_allowlist)`, r.destination, 'network'));
  }
  return new Promise((resolve, reject) => {
    let streaming: Transform | undefined;
    let decoding: Readable | undefined;
    const fail = (err: FederationRequestError) => {
      clearTimeout(deadline);
      req.destroy();
      // A gzip decoder still holding input must not go on inflating it (a bomb's next megabytes).
      decoding?.destroy();
      // Once the body is handed over, its reader learns of the failure; before, the caller does.
      if (streaming) streaming.destroy(err);
      else reject(err);
    };
    const req = httpsRequest({
      host: r.host,
      port: r.port,
      method: r.method,
      path: r.path,
      headers: r.headers,
      agent: r.agent,
      rejectUnauthorized: r.rejectUnauthorized,
      // Hostnames resolve through the policy: a name pointing into the home network is refused.
      ...(r.addressPolicy && isIP(r.host) === 0 ? { lookup: r.addressPolicy.lookup as never } : {}),
      // SNI and the certificate name: the expected hostname; none for an IP address.
      ...(r.servername !== undefined ? { servername: r.servername } : {}),
    });
    const deadline = setTimeout(() => fail(new FederationRequestError(`${r.destination} did not answer ${r.method} ${r.path} within ${r.timeoutMs} ms`, r.destination, 'timeout')), r.timeoutMs);
    req.on('error', (err) => fail(new FederationRequestError(`cannot reach ${r.destination}: ${err.message}`, r.destination, 'network')));
    req.on('response', (res) => {
      const status = res.statusCode ?? 0;
      const declared = Number(res.headers['content-length']);
      if (Number.isFinite(declared) && declared > r.maxBytes) {
        fail(new FederationRequestError(`${r.destination} answered ${r.method} ${r.path} with ${declared} bytes (limit ${r.maxBytes})`, r.destination, 'too-large', status));
        return;
      }
      const contentEncoding = res.headers['content-encoding'];
      const decoder = decoderFor(contentEncoding);
      if (decoder === 'unsupported') {
        fail(new FederationRequestError(`${r.destination} answered ${r.method} ${r.path} in a coding we did not ask for (${contentEncoding})`, r.destination, 'not-json', status));
        return;
      }
      const tooLarge = () => new FederationRequestError(`${r.destination} answered ${r.method} ${r.path} with more than ${r.maxBytes} bytes`, r.destination, 'too-large', status);
      const undecodable = (err: Error) => new FederationRequestError(`${r.destination} answered ${r.method} ${r.path} with a gzip body that does not decode: ${err.message}`, r.destination, 'not-json', status);
      // The bytes on the wire are bounded as before; with gzip the decoded bytes are counted below
      // against the same limit, so a small compressed answer cannot expand past it in memory.
      let wireSize = 0;
      if (decoder) {
        decoding = decoder;
        res.on('data', (chunk: Buffer) => {
          wireSize += chunk.length;
          if (wireSize > r.maxBytes) fail(tooLarge());
        });
        res.pipe(decoder);
      }
      const body: Readable = decoder ?? res;
      if (r.stream && status >= 200 && status < 300) {
        let size = 0;
        streaming = new Transform({
          transform(chunk: Buffer, _encoding, done) {
            size += chunk.length;
            if (size > r.maxBytes) return done(tooLarge());
            done(null, chunk);
          },
        });
        streaming.once('close', () => {
          clearTimeout(deadline);
          decoder?.destroy();
          // A reader that gave up before the end (a bad element, a refused event): the rest of the
          // body is not wanted, and a connection with an unread body cannot go back to the pool.
          if (!res.readableEnded) req.destroy();
        });
        streaming.once('error', () => req.destroy());
        res.on('error', (err) => streaming?.destroy(new FederationRequestError(`${r.destination}: ${err.message}`, r.destination, 'network')));
        decoder?.on('error', (err) => streaming?.destroy(undecodable(err)));
        body.pipe(streaming);
        resolve({ status, body: Buffer.alloc(0), headers: res.headers, stream: streaming });
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      body.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > r.maxBytes) {
          fail(tooLarge());
          return;
        }
        chunks.push(chunk);
      });
      res.on('error', (err) => fail(new FederationRequestError(`${r.destination}: ${err.message}`, r.destination, 'network')));
      decoder?.on('error', (err) => fail(undecodable(err)));
      body.on('end', () => {
        clearTimeout(deadline);
        resolve({ status, body: Buffer.concat(chunks), headers: res.headers });
      });
    });
    req.end(r.payload);
  });
}

function queryString(query: Query | undefined): string {
  if (!query) return '';
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    for (const v of Array.isArray(value) ? value : [value]) params.append(name, v);
  }
  const text = params.toString();
  return text === '' ? '' : `?${text}`;
}

/** Well-known documents are small; anything bigger is not one. */
const WELL_KNOWN_MAX_BYTES = 64 * 1024;
const WELL_KNOWN_TIMEOUT_MS = 10_000;
const MAX_REDIRECTS = 5;

/**
 * The real DNS and well-known fetch for `ServerResolver`: SRV through the system's DNS servers, and
 * `GET https://<hostname>/.well-known/matrix/server` following up to 5 redirects (a loop ends there).
 */
export function systemResolverPorts(opts: { verifyTls: boolean; addressPolicy?: AddressPolicy }): ResolverPorts {
  const dns = new Resolver({ timeout: 5000, tries: 2 });
  return {
    async resolveSrv(name) {
      try {
        return await dns.resolveSrv(name);
      } catch (err) {
        const code = (err as { code?: string }).code;
        if (code === 'ENOTFOUND' || code === 'ENODATA' || code === 'ESERVFAIL' || code === 'ENONAME') return [];
        throw err;
      }
    },
    async fetchWellKnown(hostname): Promise<WellKnownAnswer> {
      let url = new URL(`https://${hostname}/.well-known/matrix/server`);
      for (let hop = 0; ; hop++) {
        const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
        const result = await httpsExchange({
          host,
          port: url.port === '' ? 443 : Number(url.port),
          servername: /^[0-9.]+$|:/.test(host) ? undefined : host,
          method: 'GET',
          path: url.pathname + url.search,
          headers: { Host: url.host, Accept: 'application/json', 'User-Agent': 'Hearth' },
          timeoutMs: WELL_KNOWN_TIMEOUT_MS,
          maxBytes: WELL_KNOWN_MAX_BYTES,
          destination: hostname,
          agent: undefined,
          rejectUnauthorized: opts.verifyTls,
          addressPolicy: opts.addressPolicy,
        });
        const location = result.headers.location;
        if (result.status >= 300 && result.status < 400 && typeof location === 'string' && hop < MAX_REDIRECTS) {
          const next = new URL(location, url);
          if (next.protocol !== 'https:') return { status: result.status, body: undefined };
          url = next;
          continue;
        }
        let body: unknown;
        try {
          body = parseJsonBody(result.body);
        } catch {
          body = undefined;
        }
        const maxAge = /(?:^|,)\s*max-age=(\d+)/i.exec(String(result.headers['cache-control'] ?? ''));
        return { status: result.status, body, ...(maxAge ? { maxAgeSeconds: Number(maxAge[1]) } : {}) };
      }
    },
  };
}
