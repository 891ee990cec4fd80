/**
 * MSC3079's CBOR on the Client-Server listener: request bodies sent as `application/cbor` are
 * decoded (`cbor-body.ts`), and answers are written as CBOR for the clients that ask
 * (`negotiation.ts`), errors included. Everything under `/_matrix/client` except media, which the
 * MSC leaves out (uploads keep their raw bodies, downloads their own types).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { markNonIntegerLiteral } from '../json-body.js';
import { decodeCborBody, encodeCborBody } from './cbor-body.js';
import { CBOR_MEDIA_TYPE, negotiateResponseFormat } from './negotiation.js';

const CLIENT_PREFIX = '/_matrix/client/';
const MEDIA_PREFIX = '/_matrix/client/v1/media/';

/** Requests whose CBOR body wrote integer keys: answered with integer keys. */
const WROTE_INTEGER_KEYS = new WeakSet<FastifyRequest['raw']>();

export function installCborBodies(app: FastifyInstance): void {
  app.addContentTypeParser(CBOR_MEDIA_TYPE, { parseAs: 'buffer' }, (req, body: Buffer, done) => {
    if (body.length === 0) return done(null, undefined);
    try {
      const decoded = decodeCborBody(body);
      if (decoded.nonIntegerNumber) markNonIntegerLiteral(decoded.value);
      if (decoded.usedIntegerKeys) WROTE_INTEGER_KEYS.add(req.raw);
      done(null, decoded.value);
    } catch (err) {
      done(err as Error, undefined);
    }
  });

  // Callback-style, like the other per-request hooks (base-server.ts): no promise per request.
  app.addHook('onRequest', (req, reply, done) => {
    const url = req.url;
    if (!url.startsWith(CLIENT_PREFIX) || url.startsWith(MEDIA_PREFIX)) return done();
    const { 'content-type': contentType, accept } = req.headers;
    // Nearly every request is JSON: no header parsing for those (this hook runs on every request).
    if (!mentionsCbor(contentType) && !mentionsCbor(accept)) return done();
    const format = negotiateResponseFormat(contentType, accept);
    if (format.cbor) {
      reply.header('vary', 'Accept');
      // Buffers and streams never reach a serializer; a string does when its route set a type
      // (a page, a text): those are sent as they are.
      const serialize = (payload: unknown): string | Buffer => {
        if (typeof payload === 'string') return payload;
        reply.header('content-type', CBOR_MEDIA_TYPE);
        return encodeCborBody(payload, format.integerKeys || WROTE_INTEGER_KEYS.has(req.raw));
      };
      // fastify's types say a serializer returns a string; it sends a Buffer just the same (reply.js onSendEnd).
      reply.serializer(serialize as (payload: unknown) => string);
    }
    done();
  });
}

function mentionsCbor(header: string | undefined): boolean {
  return header !== undefined && /cbor/i.test(header);
}
