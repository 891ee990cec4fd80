/**
 * The federation surface, assembled: the server's keyring, the TLS (or plain, behind a proxy)
 * listener on the federation port with the key and version endpoints, the X-Matrix guard, the
 * outgoing client with server-name resolution, and the remote key store. The event pipeline
 * registers its routes on `app` (guarded by `auth.requireServer`) before `listen()`.
 */
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { HearthConfig } from '../config/config.js';
import type { Database } from '../storage/db.js';
import { ServerKeyStore } from '../storage/server-keys.js';
import { registerKeyRoutes } from '../api/federation/keys.js';
import { registerFederationVersionRoute } from '../api/federation/version.js';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { PUBLISHED_KEY_VALIDITY_MS, type ServerKeyring } from '../federation/keys/keyring.js';
import { KeyCopies, KeyCopyWatch } from '../federation/keys/key-copies.js';
import { RemoteKeyService } from '../federation/keys/remote-keys.js';
import { AddressPolicy, DEFAULT_IP_RANGE_BLOCKLIST } from '../federation/transport/address-policy.js';
import { FederationClient, systemResolverPorts } from '../federation/transport/client.js';
import { createFederationServer } from '../federation/transport/listener.js';
import { installIdentifierParamChecks } from '../http/identifier-params.js';
import { createServerAuthenticator, type ServerAuthenticator } from '../federation/transport/request-auth.js';
import { ServerResolver, type ResolverPorts } from '../federation/transport/resolver.js';
import { loadOrCreateTlsCertificate } from '../federation/transport/tls-certificate.js';
import { describeListenError } from './listen-error.js';
import { hearthVersion } from './version.js';
import { ClockGuard } from '../federation/clock/clock-guard.js';
import { RELEASE_FLOOR_MS } from '../federation/clock/clock-sanity.js';

export interface FederationSurface {
  /** The federation listener's fastify instance: routes go here before `listen()`. */
  readonly app: FastifyInstance;
  readonly keyring: ServerKeyring;
  /** `auth.requireServer(req)`: the request's authenticated origin, or 401 M_UNAUTHORIZED. */
  readonly auth: ServerAuthenticator;
  /** Signed requests to other servers (`FederationRequests`). */
  readonly client: FederationClient;
  /** Other servers' keys: `publicKey(server, keyId, atTs, rules)` for events (`ServerKeyLookup`). */
  readonly keys: RemoteKeyService;
  /**
   * Starts watching when the given servers' copies of our key expire (federation/keys/key-copies.ts):
   * warned in the log a day before; `status()` for `hearth federation status`. Stopped by `close()`.
   */
  watchKeyCopies(destinations: () => string[]): KeyCopyWatch;
  /** Calls `listener(origin)` for every validly signed request; returns the unsubscribe. */
  onServerContact(listener: (origin: string) => void): () => void;
  /** Binds the federation port (a taken port becomes a ListenError naming the setting). */
  listen(): Promise<void>;
  close(): Promise<void>;
}

export interface FederationAssemblyDeps {
  config: HearthConfig;
  log: Logger;
  db: Database;
  keyring: ServerKeyring;
  /** Judges the wall clock: nothing is signed or judged against "now" while it is wrong. Default: against the release's date only. */
  clock?: ClockGuard;
  /** DNS and well-known lookups; tests inject their own. Default: the system's. */
  resolverPorts?: ResolverPorts;
}

export async function assembleFederation(deps: FederationAssemblyDeps): Promise<FederationSurface> {
  const { config, log, keyring } = deps;
  const clock = deps.clock ?? new ClockGuard({ floorMs: RELEASE_FLOOR_MS, log });
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
  if (!fed.verifyTls) log.warn('federation: other servers\' TLS certificates are not checked (federation.verify_tls: false)');

  const addressPolicy = new AddressPolicy([...DEFAULT_IP_RANGE_BLOCKLIST, ...fed.ipRangeBlocklist], fed.ipRangeAllowlist);
  const resolver = new ServerResolver(deps.resolverPorts ?? systemResolverPorts({ verifyTls: fed.verifyTls, addressPolicy }));
  const client = new FederationClient({
    addressPolicy,
    serverName: config.serverName,
    signingKey: () => keyring.current,
    resolver,
    verifyTls: fed.verifyTls,
    userAgent: `Hearth/${hearthVersion()}`,
    clockProblem: () => clock.problem(),
  });
  const keys = new RemoteKeyService({
    keyring,
    store: new ServerKeyStore(deps.db),
    client,
    trustedKeyServers: fed.trustedKeyServers,
    log: log.child({ component: 'server-keys' }),
    clock,
  });
  const contactListeners = new Set<(origin: string) => void>();
  const auth = createServerAuthenticator({
    serverName: config.serverName,
    clock,
    requestKey: (origin, keyId) => keys.requestKey(origin, keyId),
    onServerContact: (origin) => {
      for (const listener of contactListeners) {
        try {
          listener(origin);
        } catch (err) {
          log.error({ err, origin }, 'server contact listener failed');
        }
      }
    },
  });

  const app = createFederationServer({ logger: log.child({ component: 'federation-http' }), ...(tls ? { tls } : {}) });
  // Room, user and event ids in paths are checked before any handler, as on the client listener.
  installIdentifierParamChecks(app);
  registerFederationVersionRoute(app, { version: hearthVersion() });
  const keyCopies = new KeyCopies({ db: deps.db, validityMs: PUBLISHED_KEY_VALIDITY_MS });
  await keyCopies.load();
  const keyLog = log.child({ component: 'server-keys' });
  let keyCopyWatch: KeyCopyWatch | undefined;
  registerKeyRoutes(app, {
    ownKeys: () => keyring.publishedKeys(Date.now()),
    notary: keys,
    clock,
    onOwnKeysServed: (address) => void keyCopies.noteFetch(address).catch((err: unknown) => keyLog.warn({ err }, 'recording a fetch of our keys failed')),
  });
  return {
    app,
    keyring,
    auth,
    client,
    keys,
    watchKeyCopies(destinations) {
      keyCopyWatch?.stop();
      keyCopyWatch = new KeyCopyWatch({
        copies: keyCopies,
        destinations,
        // Where a server is reached; its key fetches come from there too, unless it sits behind NAT.
        addressesOf: async (destination) => {
          const { connectHost } = await resolver.resolve(destination);
          if (isIP(connectHost)) return [connectHost];
          return (await lookup(connectHost, { all: true })).map((a) => a.address);
        },
        log: keyLog,
      });
      keyCopyWatch.start();
      return keyCopyWatch;
    },
    onServerContact(listener) {
      contactListeners.add(listener);
      return () => contactListeners.delete(listener);
    },
    async listen() {
      try {
        await app.listen({ host: fed.bindAddress, port: fed.port });
      } catch (err) {
        throw describeListenError(err, { what: 'the federation API', host: fed.bindAddress, port: fed.port, setting: 'federation.port', env: 'HEARTH_FEDERATION_PORT' });
      }
    },
    async close() {
      keyCopyWatch?.stop();
      await app.close();
      client.close();
    },
  };
}
