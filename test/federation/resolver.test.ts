import test from 'ava';
import { ServerResolver, type ResolverPorts, type SrvRecord, type WellKnownAnswer } from '../../src/federation/transport/resolver.js';

/** Scripted DNS and well-known answers; records what was asked. */
function ports(script: { srv?: Record<string, SrvRecord[]>; wellKnown?: Record<string, WellKnownAnswer | 'unreachable'> }) {
  const asked: string[] = [];
  const p: ResolverPorts = {
    async resolveSrv(name) {
      asked.push(`srv ${name}`);
      return script.srv?.[name] ?? [];
    },
    async fetchWellKnown(hostname) {
      asked.push(`well-known ${hostname}`);
      const answer = script.wellKnown?.[hostname];
      if (answer === undefined) return { status: 404, body: { errcode: 'M_NOT_FOUND' } };
      if (answer === 'unreachable') throw new Error('ECONNREFUSED');
      return answer;
    },
  };
  return { ports: p, asked };
}

const srv = (name: string, port: number, priority = 10, weight = 5): SrvRecord => ({ name, port, priority, weight });

test('1. an IP literal: that address and port (8448 by default), Host the server name, no SNI', async (t) => {
  const { ports: p, asked } = ports({});
  const r = new ServerResolver(p);
  t.deepEqual(await r.resolve('192.0.2.7'), { serverName: '192.0.2.7', connectHost: '192.0.2.7', port: 8448, hostHeader: '192.0.2.7', tlsServerName: undefined });
  t.deepEqual(await r.resolve('[2001:db8::1]:8449'), { serverName: '[2001:db8::1]:8449', connectHost: '2001:db8::1', port: 8449, hostHeader: '[2001:db8::1]:8449', tlsServerName: undefined });
  t.deepEqual(asked, [], 'no lookups for IP literals');
});

test('2. a hostname with a port: no well-known, no SRV; Host the server name, certificate the hostname', async (t) => {
  const { ports: p, asked } = ports({ srv: { '_matrix-fed._tcp.example.org': [srv('other.example.org', 1)] } });
  t.deepEqual(await new ServerResolver(p).resolve('example.org:1234'), { serverName: 'example.org:1234', connectHost: 'example.org', port: 1234, hostHeader: 'example.org:1234', tlsServerName: 'example.org' });
  t.deepEqual(asked, []);
});

test('3.1 well-known delegating to an IP literal', async (t) => {
  const { ports: p } = ports({ wellKnown: { 'example.org': { status: 200, body: { 'm.server': '198.51.100.3:9000' } } } });
  t.deepEqual(await new ServerResolver(p).resolve('example.org'), { serverName: 'example.org', connectHost: '198.51.100.3', port: 9000, hostHeader: '198.51.100.3:9000', tlsServerName: undefined });
});

test('3.2 well-known delegating to a hostname with a port', async (t) => {
  const { ports: p, asked } = ports({ wellKnown: { 'example.org': { status: 200, body: { 'm.server': 'matrix.example.net:443' } } } });
  t.deepEqual(await new ServerResolver(p).resolve('example.org'), { serverName: 'example.org', connectHost: 'matrix.example.net', port: 443, hostHeader: 'matrix.example.net:443', tlsServerName: 'matrix.example.net' });
  t.deepEqual(asked, ['well-known example.org']);
});

test('3.3-3.5 well-known delegating to a bare hostname: SRV _matrix-fed, then _matrix, then 8448; Host and certificate the delegated name', async (t) => {
  const wellKnown = { 'example.org': { status: 200, body: { 'm.server': 'matrix.example.net' } } };
  const fed = ports({ wellKnown, srv: { '_matrix-fed._tcp.matrix.example.net': [srv('b.example.net.', 8450, 20), srv('a.example.net.', 8449, 10, 1)], '_matrix._tcp.matrix.example.net': [srv('legacy.example.net', 1)] } });
  t.deepEqual(await new ServerResolver(fed.ports).resolve('example.org'), { serverName: 'example.org', connectHost: 'a.example.net', port: 8449, hostHeader: 'matrix.example.net', tlsServerName: 'matrix.example.net' });
  t.deepEqual(fed.asked, ['well-known example.org', 'srv _matrix-fed._tcp.matrix.example.net']);

  const legacy = ports({ wellKnown, srv: { '_matrix._tcp.matrix.example.net': [srv('legacy.example.net', 8500)] } });
  t.deepEqual(await new ServerResolver(legacy.ports).resolve('example.org'), { serverName: 'example.org', connectHost: 'legacy.example.net', port: 8500, hostHeader: 'matrix.example.net', tlsServerName: 'matrix.example.net' });

  const none = ports({ wellKnown });
  t.deepEqual(await new ServerResolver(none.ports).resolve('example.org'), { serverName: 'example.org', connectHost: 'matrix.example.net', port: 8448, hostHeader: 'matrix.example.net', tlsServerName: 'matrix.example.net' });
  t.deepEqual(none.asked, ['well-known example.org', 'srv _matrix-fed._tcp.matrix.example.net', 'srv _matrix._tcp.matrix.example.net']);
});

test('4-6. no valid well-known: SRV on the hostname itself, then 8448; Host and certificate the hostname', async (t) => {
  const viaSrv = ports({ srv: { '_matrix-fed._tcp.example.org': [srv('fed.example.org', 8443)] } });
  t.deepEqual(await new ServerResolver(viaSrv.ports).resolve('example.org'), { serverName: 'example.org', connectHost: 'fed.example.org', port: 8443, hostHeader: 'example.org', tlsServerName: 'example.org' });
  // "." as SRV target means "no service here": skipped.
  const dot = ports({ srv: { '_matrix-fed._tcp.example.org': [srv('.', 8443)] } });
  t.is((await new ServerResolver(dot.ports).resolve('example.org')).port, 8448);
  for (const body of [{ 'm.server': 'not a name!' }, { 'm.server': 7 }, 'text', undefined]) {
    const bad = ports({ wellKnown: { 'example.org': { status: 200, body } } });
    t.deepEqual(await new ServerResolver(bad.ports).resolve('example.org'), { serverName: 'example.org', connectHost: 'example.org', port: 8448, hostHeader: 'example.org', tlsServerName: 'example.org' }, JSON.stringify(body));
  }
  const non200 = ports({ wellKnown: { 'example.org': { status: 500, body: { 'm.server': 'x.example.org:1' } } } });
  t.is((await new ServerResolver(non200.ports).resolve('example.org')).connectHost, 'example.org');
});

test('well-known answers are cached: max-age up to 48 h, 24 h by default, invalid ones 1 h, unreachable 2 min', async (t) => {
  let now = 1_000_000;
  const answers: Record<string, WellKnownAnswer | 'unreachable'> = {
    'long.example': { status: 200, body: { 'm.server': 'd.example:1' }, maxAgeSeconds: 10 * 24 * 3600 },
    'default.example': { status: 200, body: { 'm.server': 'd.example:1' } },
    'invalid.example': { status: 404, body: undefined },
    'down.example': 'unreachable',
  };
  const { ports: p, asked } = ports({ wellKnown: answers });
  const r = new ServerResolver(p, { now: () => now });
  const fetches = (host: string) => asked.filter((a) => a === `well-known ${host}`).length;
  for (const host of Object.keys(answers)) await r.resolve(host);
  const after = async (ms: number) => {
    now += ms;
    for (const host of Object.keys(answers)) {
      r.forget(host); // the resolution itself is cached too (at most 1 h): look at the well-known cache
      await r.resolve(host);
    }
  };
  await after(119_000);
  t.deepEqual(Object.keys(answers).map(fetches), [1, 1, 1, 1]);
  await after(2_000); // 2 min passed: the unreachable one is asked again
  t.deepEqual(Object.keys(answers).map(fetches), [1, 1, 1, 2]);
  await after(3600_000); // > 1 h: the invalid one too
  t.deepEqual(Object.keys(answers).map(fetches), [1, 1, 2, 3]);
  await after(23 * 3600_000); // > 24 h: the default one
  t.deepEqual(Object.keys(answers).map(fetches), [1, 2, 3, 4]);
  await after(24 * 3600_000 + 1000); // > 48 h: even the one whose max-age said 10 days
  t.deepEqual(Object.keys(answers).map(fetches), [2, 3, 4, 5]);
});

test('a resolution is reused (no lookups) until forgotten; names that are not server names are refused', async (t) => {
  const { ports: p, asked } = ports({ srv: { '_matrix-fed._tcp.example.org': [srv('fed.example.org', 8443)] } });
  const r = new ServerResolver(p);
  await r.resolve('example.org');
  const count = asked.length;
  await r.resolve('example.org');
  t.is(asked.length, count);
  r.forget('example.org');
  await r.resolve('example.org');
  t.true(asked.length > count);
  await t.throwsAsync(r.resolve('bad name'), { message: /not a server name/ });
});
