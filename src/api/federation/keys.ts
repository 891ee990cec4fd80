/**
 * The key exchange (server-server "Retrieving server keys"; keys_server.yaml, keys_query.yaml):
 * - GET /_matrix/key/v2/server: our own key set, signed by us;
 * - GET /_matrix/key/v2/query/{serverName} and POST /_matrix/key/v2/query: as a notary, the key
 *   sets we know for other servers (from the cache, refreshed when stale) and ourselves, each
 *   signed by its server and then by us.
 * None of these need authentication: they are how authentication starts.
 */
import type { FastifyInstance } from 'fastify';
import { invalidParam } from '../../core/errors.js';
import { isValidServerName } from '../../core/identifiers.js';
import { isJsonObject } from '../../core/json-object.js';
import type { JsonObject } from '../../core/types.js';

export interface KeyNotary {
  /**
   * The key sets of `serverName`, signed by it and countersigned by us, refreshed from the server if
   * what we hold expires before `minimumValidUntilTs`; the last known ones if it cannot be reached;
   * [] when there are none.
   */
  query(serverName: string, minimumValidUntilTs: number): Promise<JsonObject[]>;
}

export interface KeyRouteDeps {
  /** Our signed `/_matrix/key/v2/server` body. */
  ownKeys(): JsonObject;
  notary: KeyNotary;
  now?: () => number;
  /**
   * Throws (503) while our clock is wrong: our key set's `valid_until_ts` and a notary's judgement
   * of what is still valid are counted from now (docs/federation.md "Clock").
   */
  clock?: { assertSane(): void };
  /** Our key set was just served to `address` (federation/keys/key-copies.ts: when that copy expires). */
  onOwnKeysServed?: (address: string) => void;
}

/** A bulk query names at most this many servers: each may cost a fetch. */
export const MAX_SERVERS_PER_QUERY = 64;

export function registerKeyRoutes(app: FastifyInstance, deps: KeyRouteDeps): void {
  const now = deps.now ?? Date.now;
  const requireClock = () => deps.clock?.assertSane();

  app.get('/_matrix/key/v2/server', async (req) => {
    requireClock();
    deps.onOwnKeysServed?.(req.ip);
    return deps.ownKeys();
  });

  app.get<{ Params: { serverName: string }; Querystring: Record<string, unknown> }>('/_matrix/key/v2/query/:serverName', async (req) => {
    const { serverName } = req.params;
    if (!isValidServerName(serverName)) throw invalidParam('Invalid server name');
    requireClock();
    const minimum = timestampParam(req.query.minimum_valid_until_ts, now());
    return { server_keys: await deps.notary.query(serverName, minimum) };
  });

  app.post('/_matrix/key/v2/query', async (req) => {
    const body = req.body;
    if (!isJsonObject(body) || !isJsonObject(body.server_keys)) throw invalidParam('server_keys must be an object');
    requireClock();
    const servers = Object.entries(body.server_keys);
    if (servers.length > MAX_SERVERS_PER_QUERY) throw invalidParam(`At most ${MAX_SERVERS_PER_QUERY} servers per query`);
    const wanted: Array<[string, number]> = [];
    for (const [serverName, criteria] of servers) {
      if (!isValidServerName(serverName)) throw invalidParam(`Invalid server name ${serverName}`);
      if (!isJsonObject(criteria)) throw invalidParam(`server_keys.${serverName} must be an object`);
      // The key ids do not narrow the answer ("The notary server may return multiple keys
      // regardless of the Key IDs given"); the latest minimum_valid_until_ts among them counts.
      let minimum = now();
      for (const c of Object.values(criteria)) {
        if (!isJsonObject(c)) throw invalidParam(`server_keys.${serverName} criteria must be objects`);
        if (c.minimum_valid_until_ts !== undefined) minimum = Math.max(minimum, timestampParam(c.minimum_valid_until_ts, minimum));
      }
      wanted.push([serverName, minimum]);
    }
    const answers = await Promise.all(wanted.map(([serverName, minimum]) => deps.notary.query(serverName, minimum)));
    return { server_keys: answers.flat() };
  });
}

function timestampParam(value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  const n = typeof value === 'string' && /^[0-9]{1,16}$/.test(value) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) throw invalidParam('minimum_valid_until_ts must be a timestamp in milliseconds');
  return n;
}
