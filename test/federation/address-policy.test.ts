import test from 'ava';
import { AddressPolicy, DEFAULT_IP_RANGE_BLOCKLIST } from '../../src/federation/transport/address-policy.js';

test('private, loopback, link-local and reserved addresses are refused by default; public ones pass', (t) => {
  const policy = new AddressPolicy(DEFAULT_IP_RANGE_BLOCKLIST, []);
  for (const address of ['127.0.0.1', '10.1.2.3', '172.20.0.1', '192.168.1.1', '169.254.1.1', '100.64.0.1', '0.0.0.0', '224.0.0.1', '::1', 'fe80::1', 'fd12::1', '::ffff:192.168.1.1', '::ffff:127.0.0.1']) {
    t.false(policy.allows(address), address);
  }
  for (const address of ['8.8.8.8', '1.1.1.1', '2a00:1450::1', '::ffff:8.8.8.8']) t.true(policy.allows(address), address);
});

test('the allowlist wins over the blocklist; extra blocked ranges apply', (t) => {
  const policy = new AddressPolicy([...DEFAULT_IP_RANGE_BLOCKLIST, '8.8.8.0/24'], ['127.0.0.1', '192.168.1.0/24']);
  t.true(policy.allows('127.0.0.1'));
  t.false(policy.allows('127.0.0.2'));
  t.true(policy.allows('192.168.1.77'));
  t.false(policy.allows('192.168.2.1'));
  t.false(policy.allows('8.8.8.8'));
  t.true(policy.allows('8.8.4.4'));
});

test('malformed ranges are configuration errors naming the setting', (t) => {
  t.throws(() => new AddressPolicy(['10.0.0.0/33'], []), { message: /ip_range_blocklist.*prefix/ });
  t.throws(() => new AddressPolicy([], ['home.lan']), { message: /ip_range_allowlist.*not an IP/ });
});
