import test from 'ava';
import pino from 'pino';
import { createHttpServer } from '../../src/http/server.js';
import { MatrixError } from '../../src/core/errors.js';
import { registerTelemetryRoutes } from '../../src/api/client/telemetry.js';

async function app() {
  const server = createHttpServer({ logger: pino({ level: 'silent' }) });
  const queries: unknown[][] = [];
  registerTelemetryRoutes(server, {
    requireUser: async (req) => {
      const auth = req.headers.authorization;
      if (!auth) throw new MatrixError(401, 'M_MISSING_TOKEN', 'Missing access token');
      return { userId: auth.slice('Bearer '.length) };
    },
    isJoined: async (userId, roomId) => userId === '@alice:test' && roomId === '!r:test',
    resolveStream: (roomId, sensor) => (sensor === 'temperature' ? 'ha.x/temperature' : undefined),
    query: async (...args) => {
      queries.push(args);
      return { resolution: 'raw', points: [{ ts: 1000, value: 21.5 }] };
    },
    now: () => 100 * 86_400_000,
  });
  await server.ready();
  return { server, queries };
}

const path = (sensor: string, qs = '') => `/_matrix/client/v1/org.hearth/rooms/${encodeURIComponent('!r:test')}/telemetry/${sensor}${qs}`;

test('a joined member gets the range at the chosen resolution', async (t) => {
  const { server, queries } = await app();
  const res = await server.inject({ method: 'GET', url: path('temperature', '?from=0&to=5000&resolution=raw'), headers: { authorization: 'Bearer @alice:test' } });
  t.is(res.statusCode, 200);
  t.deepEqual(res.json(), { sensor: 'temperature', from: 0, to: 5000, resolution: 'raw', points: [{ ts: 1000, value: 21.5 }] });
  t.deepEqual(queries[0], ['ha.x/temperature', 0, 5000, 'raw']);
  await server.inject({ method: 'GET', url: path('temperature'), headers: { authorization: 'Bearer @alice:test' } });
  t.deepEqual(queries[1], ['ha.x/temperature', 99 * 86_400_000, 100 * 86_400_000, 'auto'], 'defaults: the last day, auto');
});

test('non-members, unknown sensors and bad parameters are refused', async (t) => {
  const { server } = await app();
  const as = (user: string, url: string) => server.inject({ method: 'GET', url, headers: { authorization: `Bearer ${user}` } });
  t.is((await as('@mallory:test', path('temperature'))).json().errcode, 'M_FORBIDDEN');
  t.is((await as('@alice:test', path('humidity'))).statusCode, 404);
  t.is((await as('@alice:test', path('temperature', '?resolution=2m'))).json().errcode, 'M_INVALID_PARAM');
  t.is((await as('@alice:test', path('temperature', '?from=10&to=5'))).statusCode, 400);
  // Milliseconds as plain digits only: no exponents, signs, fractions or hex.
  for (const from of ['1e12', '-5', '1.5', '0x10', ' 7']) {
    const res = await as('@alice:test', path('temperature', `?from=${encodeURIComponent(from)}`));
    t.is(res.statusCode, 400, from);
    t.deepEqual(res.json(), { errcode: 'M_INVALID_PARAM', error: 'from must be milliseconds since the epoch' }, from);
  }
  t.is((await server.inject({ method: 'GET', url: path('temperature') })).statusCode, 401);
});
