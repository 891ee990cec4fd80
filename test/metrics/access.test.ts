/** Who may read /metrics: loopback by default, configured ranges otherwise, 403 for the rest. */
import test from 'ava';
import Fastify from 'fastify';
import { LOOPBACK_RANGES, MetricsAccess } from '../../src/metrics/access.js';
import { registerMetricsRoute } from '../../src/metrics/route.js';

test('the default allows IPv4 and IPv6 loopback only', (t) => {
  const access = new MetricsAccess(LOOPBACK_RANGES);
  for (const address of ['127.0.0.1', '127.8.9.10', '::1', '::ffff:127.0.0.1']) t.true(access.allows(address), address);
  for (const address of ['192.168.1.20', '10.0.0.1', '::2', 'fe80::1', '::ffff:192.168.1.20', '0.0.0.0', 'not-an-address', undefined]) {
    t.false(access.allows(address), String(address));
  }
});

test('configured ranges and single addresses', (t) => {
  const access = new MetricsAccess(['192.168.1.0/24', '2001:db8::7', '10.1.2.3']);
  t.true(access.allows('192.168.1.200'));
  t.true(access.allows('::ffff:192.168.1.5'), 'an IPv4 peer seen through a dual-stack socket');
  t.true(access.allows('2001:db8::7'));
  t.true(access.allows('10.1.2.3'));
  t.false(access.allows('192.168.2.1'));
  t.false(access.allows('10.1.2.4'));
  t.false(access.allows('127.0.0.1'), 'loopback is not implied once ranges are configured');
});

test('malformed ranges are refused with the setting named', (t) => {
  for (const range of ['localhost', '192.168.1.0/33', '::1/129', '10.0.0.0/', '10.0.0.0/8/8', '10.0.0.0/x']) {
    t.throws(() => new MetricsAccess([range]), { message: /^metrics\.allow: / }, range);
  }
});

test('GET /metrics answers allowed peers and refuses others with 403', async (t) => {
  const app = Fastify();
  registerMetricsRoute(app, {
    access: new MetricsAccess(LOOPBACK_RANGES),
    render: async () => ({ contentType: 'text/plain; version=0.0.4; charset=utf-8', body: '# HELP x y\n# TYPE x gauge\nx 1\n' }),
  });
  t.teardown(() => app.close());
  const local = await app.inject({ method: 'GET', url: '/metrics', remoteAddress: '127.0.0.1' });
  t.is(local.statusCode, 200);
  t.is(local.body, '# HELP x y\n# TYPE x gauge\nx 1\n');
  const lan = await app.inject({ method: 'GET', url: '/metrics', remoteAddress: '192.168.1.20' });
  t.is(lan.statusCode, 403);
  t.false(lan.body.includes('x 1'));
});
