/**
 * The operation a User-Interactive Authentication session is bound to: the request's method and
 * path, as Synapse's `check_ui_auth` compares uri and method ("Requested operation has changed
 * during the UI authentication session"). The query string is left out: it names no operation here
 * and may carry the access token, which a client can move to a header between stages.
 */
import type { FastifyRequest } from 'fastify';

export function uiaOperation(req: FastifyRequest): string {
  const query = req.url.indexOf('?');
  return `${req.method} ${query === -1 ? req.url : req.url.slice(0, query)}`;
}
