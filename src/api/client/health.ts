/**
 * GET /health, as Synapse's: `200 OK` (text/plain) when the gateway can serve, `503` with the reason
 * when it cannot (storage failing: a full disk, too many open files); for load balancers, systemd
 * watchdog scripts and `curl -f`. No authentication, no details beyond the reason.
 *
 * What only part of the gateway suffers (a wrong clock pauses federation; the home is still served)
 * stays `200`, the first line `OK`, with one line each after it: a watchdog must not restart a
 * gateway that serves its home, and a person reading it learns why federation waits.
 */
import type { FastifyInstance } from 'fastify';

export interface HealthDeps {
  /** Undefined when healthy, else why not (one line). */
  problem(): string | undefined;
  /** Lines saying what works only in part (served with 200), none when all is well. */
  degraded?(): string[];
}

export function registerHealthRoutes(app: FastifyInstance, deps: HealthDeps): void {
  app.get('/health', async (_req, reply) => {
    const problem = deps.problem();
    reply.header('content-type', 'text/plain; charset=utf-8').header('cache-control', 'no-store');
    if (problem === undefined) {
      const degraded = deps.degraded?.() ?? [];
      return degraded.length === 0 ? 'OK' : `OK\n${degraded.join('\n')}\n`;
    }
    reply.code(503);
    return `${problem}\n`;
  });
}
