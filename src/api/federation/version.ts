/** GET /_matrix/federation/v1/version (server-server "Server implementation", version.yaml). No authentication. */
import type { FastifyInstance } from 'fastify';

export interface VersionRouteDeps {
  /** Hearth's version (package.json, or the version the bundle was built with). */
  version: string;
}

export function registerFederationVersionRoute(app: FastifyInstance, deps: VersionRouteDeps): void {
  const body = { server: { name: 'Hearth', version: deps.version } };
  app.get('/_matrix/federation/v1/version', async () => body);
}
