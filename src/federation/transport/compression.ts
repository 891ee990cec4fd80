/**
 * gzip on federation traffic, for thin (metered, mobile) uplinks (issue 12 "Thin uplinks").
 *
 * Answers: our listener compresses a JSON answer with gzip when the request's `Accept-Encoding`
 * allows it (RFC 9110 12.5.3) and the answer is big enough to be worth the CPU of a small board;
 * streamed answers are piped through the compressor, never gathered whole. Requests are never
 * compressed: the Server-Server API says nothing of `Content-Encoding` on requests and Synapse
 * refuses it.
 *
 * Our client asks for gzip (`Accept-Encoding: gzip`) and decodes it (`decoderFor`); its size limits
 * count the decoded bytes, so a small "gzip bomb" is cut like any other oversized answer.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Readable } from 'node:stream';
import { createGunzip, createGzip, gzip, type Gunzip } from 'node:zlib';
import { promisify } from 'node:util';

const gzipAsync = promisify(gzip);

/**
 * Answers smaller than this go as they are: a few hundred bytes save little on the wire (gzip adds
 * ~20 bytes of framing) and still cost a compressor's setup on a Raspberry Pi.
 */
export const COMPRESSION_THRESHOLD_BYTES = 1024;
/**
 * zlib's default level, 6. Measured on a 1,000-message backfill (docs/performance.md "Federation
 * answers compressed"): level 1 leaves 24.3 % of the bytes, 6 leaves 23.7 %, 9 23.6 %; 6 costs
 * ~10 ms of CPU per MiB of JSON on a server core against ~9 for level 1 and ~12 for level 9, a few
 * percent of what serving those events costs anyway. On a metered uplink the bytes are the scarcer
 * resource; above 6 the CPU grows for nothing.
 */
export const COMPRESSION_LEVEL = 6;

/** What the client sends: gzip is the one coding every HTTP stack (Synapse's Twisted included) speaks. */
export const CLIENT_ACCEPT_ENCODING = 'gzip';

/** A qvalue (RFC 9110 12.4.2): 0 to 1 with at most three decimals. */
const QVALUE = /^(?:0(?:\.\d{0,3})?|1(?:\.0{0,3})?)$/;

/**
 * The codings an `Accept-Encoding` value lists, lower-cased, each with its weight (RFC 9110
 * 12.5.3: `coding [ ";q=" qvalue ]`, comma-separated, 1 when no weight is given). An element whose
 * weight is not a valid qvalue is left out: a malformed preference is no preference. A coding listed
 * twice keeps its first weight. `x-gzip` is recorded as `gzip` (RFC 9110 8.4.1.3 asks recipients to
 * treat them alike).
 */
export function parseAcceptEncoding(header: string | readonly string[] | undefined): Map<string, number> {
  const weights = new Map<string, number>();
  if (header === undefined) return weights;
  const text = typeof header === 'string' ? header : header.join(',');
  for (const element of text.split(',')) {
    const [codingPart, ...params] = element.split(';');
    const raw = codingPart!.trim().toLowerCase();
    if (raw === '') continue;
    const coding = raw === 'x-gzip' ? 'gzip' : raw;
    let weight = 1;
    let valid = true;
    for (const param of params) {
      const [name, value] = param.split('=').map((s) => s.trim());
      if (name?.toLowerCase() !== 'q') continue;
      if (value === undefined || !QVALUE.test(value)) valid = false;
      else weight = Number(value);
    }
    if (valid && !weights.has(coding)) weights.set(coding, weight);
  }
  return weights;
}

/**
 * Whether an answer may be sent gzip-compressed to a request with this `Accept-Encoding`
 * (RFC 9110 12.5.3): gzip is acceptable when listed with a weight above 0, or when `*` is (with a
 * weight above 0) and gzip is not listed itself; `q=0` means "not acceptable". No header at all
 * means identity (a server MAY pick any coding then, but an old peer that sends none most likely
 * cannot decode one). When the peer states a higher preference for identity than for gzip, it gets
 * identity.
 */
export function acceptsGzip(header: string | readonly string[] | undefined): boolean {
  const weights = parseAcceptEncoding(header);
  const gzipWeight = weights.get('gzip') ?? weights.get('*') ?? 0;
  if (gzipWeight <= 0) return false;
  const identityWeight = weights.get('identity');
  return identityWeight === undefined || identityWeight <= gzipWeight;
}

/** Only JSON is compressed: media (`multipart/mixed` around images, video) is mostly compressed already. */
function isCompressibleType(contentType: unknown): boolean {
  return typeof contentType === 'string' && /^application\/json\b/i.test(contentType);
}

export interface AnswerCompressionOptions {
  /** Smallest answer compressed. Default `COMPRESSION_THRESHOLD_BYTES`. */
  thresholdBytes?: number;
  /** zlib level. Default `COMPRESSION_LEVEL`. */
  level?: number;
}

/**
 * Compresses a listener's JSON answers for requests that accept gzip. Answers already sent as
 * text or bytes are compressed in one go on libuv's thread pool (the event loop keeps serving);
 * answers sent as a stream are piped through a gzip stream (their size is unknown, so they are always
 * compressed). Sets `Content-Encoding: gzip` and `Vary: Accept-Encoding` (RFC 9110 12.5.5: the
 * answer depends on that header, a cache must know it).
 */
export function installAnswerCompression(app: FastifyInstance, opts: AnswerCompressionOptions = {}): void {
  const threshold = opts.thresholdBytes ?? COMPRESSION_THRESHOLD_BYTES;
  const level = opts.level ?? COMPRESSION_LEVEL;
  app.addHook('onSend', async (req: FastifyRequest, reply: FastifyReply, payload: unknown) => {
    if (!worthCompressing(req, reply, payload, threshold)) return payload;
    // From here the chosen coding depends on Accept-Encoding, whichever it turns out to be.
    reply.header('vary', addVary(reply.getHeader('vary'), 'Accept-Encoding'));
    if (!acceptsGzip(req.headers['accept-encoding'])) return payload;
    reply.header('content-encoding', 'gzip');
    if (payload instanceof Readable) {
      reply.removeHeader('content-length');
      const compressor = createGzip({ level });
      // `pipe` does not forward errors: a failing source must end the answer, not leave it hanging.
      payload.once('error', (err) => compressor.destroy(err));
      return payload.pipe(compressor);
    }
    const compressed = await gzipAsync(payload as string | Buffer, { level });
    reply.header('content-length', compressed.length);
    return compressed;
  });
}

function worthCompressing(req: FastifyRequest, reply: FastifyReply, payload: unknown, threshold: number): boolean {
  if (req.method === 'HEAD' || reply.statusCode === 204 || reply.statusCode === 304) return false;
  if (reply.hasHeader('content-encoding')) return false;
  if (!isCompressibleType(reply.getHeader('content-type'))) return false;
  if (payload instanceof Readable) return true;
  if (typeof payload === 'string') return Buffer.byteLength(payload, 'utf8') >= threshold;
  if (Buffer.isBuffer(payload)) return payload.length >= threshold;
  return false;
}

function addVary(current: unknown, field: string): string {
  const existing = Array.isArray(current) ? current.join(', ') : typeof current === 'string' ? current : '';
  const fields = existing.split(',').map((f) => f.trim()).filter((f) => f !== '');
  if (fields.some((f) => f === '*' || f.toLowerCase() === field.toLowerCase())) return fields.join(', ');
  return [...fields, field].join(', ');
}

/**
 * The decoder for an answer's `Content-Encoding`: a gunzip stream for gzip (or its old name
 * x-gzip), none for identity or no header, and `unsupported` for anything else (we asked for gzip
 * only; an answer in another coding cannot be read). A truncated or corrupt gzip body makes the
 * decoder fail ("unexpected end of file") rather than end quietly: zlib's default `finishFlush`
 * (Z_FINISH) is kept for that.
 */
export function decoderFor(contentEncoding: string | undefined): Gunzip | undefined | 'unsupported' {
  if (contentEncoding === undefined) return undefined;
  const codings = contentEncoding.split(',').map((c) => c.trim().toLowerCase()).filter((c) => c !== '' && c !== 'identity');
  if (codings.length === 0) return undefined;
  if (codings.length === 1 && (codings[0] === 'gzip' || codings[0] === 'x-gzip')) {
    return createGunzip();
  }
  return 'unsupported';
}
