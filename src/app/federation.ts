/**
 * The federation surface, assembled: the server's keyring, the TLS (or plain, behind a proxy)
 * listener on the federation port, and the key and version endpoints. The event pipeline registers
 * its routes on `app` before `listen()`.
 */
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { HearthConfig } from '../config/config.js';
import type { JsonObject } from '../core/types.js';
import { registerKeyRoutes } from '../api/federation/keys.js';
import { registerFederationVersionRoute } from '../api/federation/version.js';
import type { ServerKeyring } from '../federation/keys/keyring.js';
import { createFederationServer } from '../federation/transport/listener.js';
import { loadOrCreateTlsCertificate } from '../federation/transport/tls-certificate.js';
import { describeListenError } from './listen-error.js';
import { hearthVersion } from './version.js';

export interface FederationSurface {
  /** The federation listener's fastify instance: routes go here before `listen()`. */
  readonly app: FastifyInstance;
  readonly keyring: ServerKeyring;
  /** Binds the federation port (a taken port becomes a ListenError naming the setting). */
  listen(): Promise<void>;
  close(): Promise<void>;
}

export interface FederationAssemblyDeps {
  config: HearthConfig;
  log: Logger;
  keyring: ServerKeyring;
}

export async function assembleFederation(deps: FederationAssemblyDeps): Promise<FederationSurface> {
  const { config, log, keyring } = deps;
  const fed = config.federation;
  let tls: { cert: Buffer; key: Buffer } | undefined;
  if (fed.tls) {
    const certificate = await loadOrCreateTlsCertificate({
      dataDir: config.dataDir,
      serverName: config.serverName,
      certificatePath: fed.tlsCertificatePath,
      privateKeyPath: fed.tlsPrivateKeyPath,
    });
    if (certificate.source === 'generated') log.info('federation: generated a self-signed TLS certificate in the data directory');
    tls = certificate;
  }
  const app = createFederationServer({ logger: log.child({ component: 'federation-http' }), ...(tls ? { tls } : {}) });
  registerFederationVersionRoute(app, { version: hearthVersion() });
  registerKeyRoutes(app, {
    ownKeys: () => keyring.publishedKeys(Date.now()),
    notary: {
      query: async (serverName) => (serverName === config.serverName ? [keyring.publishedKeys(Date.now()) as JsonObject] : []),
    },
  });
  return {
    app,
    keyring,
    async listen() {
      try {
        await app.listen({ host: fed.bindAddress, port: fed.port });
      } catch (err) {
        throw describeListenError(err, { what: 'the federation API', host: fed.bindAddress, port: fed.port, setting: 'federation.port', env: 'HEARTH_FEDERATION_PORT' });
      }
    },
    close: () => app.close(),
  };
}
