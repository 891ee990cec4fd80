/**
 * `GET /metrics` on the client port (docs/metrics.md): the Prometheus text format, for peers in
 * `metrics.allow` (loopback by default); 403 for everyone else. The peer is the socket's address:
 * there is no trusted proxy header, so a request relayed by a local reverse proxy counts as local
 * (put the proxy's `location /metrics` out of reach, docs/metrics.md).
 */
import type { FastifyInstance } from 'fastify';
import type { MetricsAccess } from './access.js';

export const METRICS_PATH = '/metrics';

export interface MetricsRouteDeps {
  access: MetricsAccess;
  render(): Promise<{ contentType: string; body: string }>;
}

export function registerMetricsRoute(app: FastifyInstance, deps: MetricsRouteDeps): void {
  app.get(METRICS_PATH, async (req, reply) => {
    if (!deps.access.allows(req.socket.remoteAddress)) {
      return reply.code(403).type('text/plain; charset=utf-8').send('metrics are served only to the addresses in metrics.allow\n');
    }
    const { contentType, body } = await deps.render();
    return reply.type(contentType).header('Cache-Control', 'no-store').send(body);
  });
}
