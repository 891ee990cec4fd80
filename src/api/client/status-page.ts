/**
 * The status page itself (docs/status-page.md): `GET /` on the client port answers its HTML, which
 * loads one script and one stylesheet from `/_hearth/status/assets/`, named by their content hash
 * and cached for good (`immutable`): a page opened again transfers the HTML alone. Everything is
 * answered gzip-compressed to a browser that accepts it (compressed once, when first asked).
 *
 * The HTML is public (it holds no data: the login form, then the data API with the admin's token);
 * a strict Content-Security-Policy keeps anything but these files from running in it.
 */
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { notFound } from '../../core/errors.js';
import type { StatusPageAssets } from '../../status/page-assets.js';

export const STATUS_ASSETS_PREFIX = '/_hearth/status/assets';

interface ServedFile {
  body: Buffer;
  gzip: Buffer;
  contentType: string;
  etag: string;
}

interface ServedPage {
  html: ServedFile;
  /** By file name (`app.<hash>.js`, `app.<hash>.css`). */
  assets: Map<string, ServedFile>;
}

/**
 * uPlot sets sizes and positions through the style attribute (`'unsafe-inline'` for styles);
 * scripts come from this origin only, and the page talks to this origin only.
 */
const CONTENT_SECURITY_POLICY =
  "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; form-action 'none'; base-uri 'none'; frame-ancestors 'none'";

export interface StatusPageDeps {
  load(): Promise<StatusPageAssets>;
}

export function registerStatusPageRoutes(app: FastifyInstance, deps: StatusPageDeps): void {
  let page: Promise<ServedPage> | undefined;
  const served = () => (page ??= prepare(deps.load()));

  app.get('/', async (req, reply) => {
    const { html } = await served();
    reply.header('cache-control', 'no-cache');
    reply.header('content-security-policy', CONTENT_SECURITY_POLICY);
    reply.header('x-content-type-options', 'nosniff');
    reply.header('referrer-policy', 'no-referrer');
    return send(req, reply, html);
  });

  app.get<{ Params: { name: string } }>(`${STATUS_ASSETS_PREFIX}/:name`, async (req, reply) => {
    const file = (await served()).assets.get(req.params.name);
    if (!file) throw notFound('No such file');
    reply.header('cache-control', 'public, max-age=31536000, immutable');
    reply.header('x-content-type-options', 'nosniff');
    return send(req, reply, file);
  });
}

async function prepare(loading: Promise<StatusPageAssets>): Promise<ServedPage> {
  const { html, js, css } = await loading;
  const jsName = `app.${hashOf(js)}.js`;
  const cssName = `app.${hashOf(css)}.css`;
  const page = html.replaceAll('{{script}}', `${STATUS_ASSETS_PREFIX}/${jsName}`).replaceAll('{{stylesheet}}', `${STATUS_ASSETS_PREFIX}/${cssName}`);
  return {
    html: file(page, 'text/html; charset=utf-8'),
    assets: new Map([
      [jsName, file(js, 'text/javascript; charset=utf-8')],
      [cssName, file(css, 'text/css; charset=utf-8')],
    ]),
  };
}

function file(text: string, contentType: string): ServedFile {
  const body = Buffer.from(text, 'utf8');
  return { body, gzip: gzipSync(body, { level: 9 }), contentType, etag: `"${hashOf(text)}"` };
}

function hashOf(text: string): string {
  return createHash('sha256').update(text).digest('base64url').slice(0, 12);
}

function send(req: FastifyRequest, reply: FastifyReply, f: ServedFile): Buffer | FastifyReply {
  reply.header('content-type', f.contentType);
  reply.header('etag', f.etag);
  reply.header('vary', 'accept-encoding');
  if (req.headers['if-none-match'] === f.etag) return reply.code(304).send();
  if (/\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''))) {
    reply.header('content-encoding', 'gzip');
    return f.gzip;
  }
  return f.body;
}
