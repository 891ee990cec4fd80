/**
 * GET /health, as Synapse's: `200 OK` (text/plain) when the gateway can serve, `503` with the reason
 * when it cannot (storage failing: a full disk, too many open files); for load balancers, systemd
 * watchdog scripts and `curl -f`. No authentication, no details beyond the reason.
 */
import type { FastifyInstance } from 'fastify';

export interface HealthDeps {
  /** Undefined when healthy, else why not (one line). */
  problem(): string | undefined;
}

export function registerHealthRoutes(app: FastifyInstance, deps: HealthDeps): void {
  app.get('/health', async (_req, reply) => {
    const problem = deps.problem();
    reply.header('content-type', 'text/plain; charset=utf-8').header('cache-control', 'no-store');
    if (problem === undefined) return 'OK';
    reply.code(503);
    return `${problem}\n`;
  });
}
