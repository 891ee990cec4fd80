/** Server discovery for clients (client-server-api "Server Discovery", "Well-known URIs"). */
import type { FastifyInstance } from 'fastify';

export interface WellKnownDeps {
  /** The URL clients should use for the Client-Server API (config.client.publicBaseUrl). */
  publicBaseUrl: string;
}

/** The `m.homeserver` discovery object; also returned by POST /login as `well_known`. */
export function clientWellKnown(publicBaseUrl: string): { 'm.homeserver': { base_url: string } } {
  return { 'm.homeserver': { base_url: publicBaseUrl.replace(/\/+$/, '') } };
}

export function registerWellKnownRoutes(app: FastifyInstance, deps: WellKnownDeps): void {
  /** GET /.well-known/matrix/client */
  app.get('/.well-known/matrix/client', async () => clientWellKnown(deps.publicBaseUrl));
}
