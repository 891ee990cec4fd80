import test from 'ava';
import {
  isCompliantUserId,
  isValidEventId,
  isValidNewLocalpart,
  isValidRoomAlias,
  isValidRoomId,
  isValidServerName,
  isValidUserId,
  parseServerName,
  parseUserId,
  serverNameOf,
} from '../../src/core/identifiers.js';
import { getRoomVersionRules } from '../../src/core/room-versions.js';

test('server names: the appendix examples and their parts', (t) => {
  t.deepEqual(parseServerName('matrix.org'), { host: 'matrix.org', kind: 'dns' });
  t.deepEqual(parseServerName('matrix.org:8888'), { host: 'matrix.org', port: 8888, kind: 'dns' });
  t.deepEqual(parseServerName('1.2.3.4'), { host: '1.2.3.4', kind: 'ipv4' });
  t.deepEqual(parseServerName('1.2.3.4:1234'), { host: '1.2.3.4', port: 1234, kind: 'ipv4' });
  t.deepEqual(parseServerName('[1234:5678::abcd]'), { host: '[1234:5678::abcd]', kind: 'ipv6' });
  t.deepEqual(parseServerName('[1234:5678::abcd]:5678'), { host: '[1234:5678::abcd]', port: 5678, kind: 'ipv6' });
  t.deepEqual(parseServerName('[::ffff:127.0.0.1]:8448'), { host: '[::ffff:127.0.0.1]', port: 8448, kind: 'ipv6' });
  t.deepEqual(parseServerName('localhost'), { host: 'localhost', kind: 'dns' });
  t.deepEqual(parseServerName('MATRIX.ORG'), { host: 'MATRIX.ORG', kind: 'dns' });
});

test('server names: invalid forms', (t) => {
  const invalid = [
    '', ':8448', 'matrix.org:', 'matrix.org:abc', 'matrix.org:123456', 'matrix.org:65536', 'matr_ix.org', 'mätrix.org',
    'matrix.org:80:80', '256.1.1.1', '1.2.3.4:', '[1234:5678::abcd', '[1234:5678::abcd]5678', '[]', '[::g]', '[1.2.3.4]',
    '1234:5678::abcd', 'a'.repeat(256), 'exa mple.org',
  ];
  for (const name of invalid) t.false(isValidServerName(name), name);
  t.true(isValidServerName('a'.repeat(255)));
  t.true(isValidServerName('matrix.org:65535'));
});

test('user ids: strict, historical and invalid', (t) => {
  t.deepEqual(parseUserId('@alice:example.org'), { localpart: 'alice', serverName: 'example.org' });
  t.deepEqual(parseUserId('@a.b_c=d-e/f+g:[::1]:8448'), { localpart: 'a.b_c=d-e/f+g', serverName: '[::1]:8448' });
  // Historical localparts (appendices "Historical User IDs") must be accepted.
  t.deepEqual(parseUserId('@Alice Smith!:example.org'), { localpart: 'Alice Smith!', serverName: 'example.org' });
  t.deepEqual(parseUserId('@:example.org'), { localpart: '', serverName: 'example.org' });
  t.true(isValidUserId('@日本\u0007:example.org'));
  for (const bad of ['alice:example.org', '@alice', '@alice:', '@al\u0000ice:example.org', '@ali\uD800ce:example.org', '@alice:bad_host', '#alice:example.org']) {
    t.false(isValidUserId(bad), JSON.stringify(bad));
  }
  // The colon separates at its first occurrence, so a colon "in the localpart" makes the rest an invalid server name.
  t.false(isValidUserId('@a:b:c:example.org'));
});

test('user ids: at most 255 bytes, counted in UTF-8', (t) => {
  const server = 'example.org';
  const fits = '@' + 'a'.repeat(255 - 1 - 1 - server.length) + ':' + server;
  t.is(Buffer.byteLength(fits), 255);
  t.true(isValidUserId(fits));
  t.false(isValidUserId('@a' + fits.slice(1)));
  t.false(isValidUserId('@' + 'é'.repeat(122) + ':' + server)); // 244 characters, 257 bytes
});

test('compliant user ids and new localparts', (t) => {
  t.true(isCompliantUserId('@Alice:example.org'));
  t.false(isCompliantUserId('@:example.org'));
  t.false(isCompliantUserId('@al ice:example.org'));
  t.false(isCompliantUserId('@é:example.org'));
  t.true(isValidNewLocalpart('alice.smith_1=/+-', 'example.org'));
  for (const bad of ['', 'Alice', 'al ice', 'al:ice', 'al#ice', 'é', 'a*']) t.false(isValidNewLocalpart(bad, 'example.org'), bad);
  t.true(isValidNewLocalpart('a'.repeat(242), 'example.org'));
  t.false(isValidNewLocalpart('a'.repeat(243), 'example.org'));
});

test('room aliases', (t) => {
  t.true(isValidRoomAlias('#kitchen:hearth.local'));
  t.true(isValidRoomAlias('#Küche & Bad:hearth.local:8448'));
  for (const bad of ['kitchen:hearth.local', '#kitchen', '#:hearth.local', '#kit\u0000chen:hearth.local', '#kitchen:bad_host']) {
    t.false(isValidRoomAlias(bad), JSON.stringify(bad));
  }
});

test('event ids are $ + 43 URL-safe base64 characters', (t) => {
  t.true(isValidEventId('$Rqnc-F-dvnEYJTyHq_iKxU2bZ1CI92-kuZq3a5lr5Zg'));
  for (const bad of ['Rqnc-F-dvnEYJTyHq_iKxU2bZ1CI92-kuZq3a5lr5Zg', '$Rqnc+F/dvnEYJTyHq_iKxU2bZ1CI92-kuZq3a5lr5Zg', '$Rqnc', '$0:domain', '$Rqnc-F-dvnEYJTyHq_iKxU2bZ1CI92-kuZq3a5lr5Zg=']) {
    t.false(isValidEventId(bad), bad);
  }
});

test('room ids by room version', (t) => {
  const v11 = getRoomVersionRules('11')!;
  const v12 = getRoomVersionRules('12')!;
  const serverForm = '!OGEhHVWSdvArJzumhm:matrix.org';
  const hashForm = '!Nhcu5BS-UMnFX7hBVfVSoXiD7OgH6iRT-xyIuqDnpYQ';
  t.true(isValidRoomId(serverForm));
  t.true(isValidRoomId(hashForm));
  t.true(isValidRoomId(serverForm, v11));
  t.false(isValidRoomId(hashForm, v11));
  t.true(isValidRoomId(hashForm, v12));
  t.false(isValidRoomId(serverForm, v12));
  for (const bad of ['OGEhHVWSdvArJzumhm:matrix.org', '!:matrix.org', '!abc', '!abc:bad_host', '$Nhcu5BS-UMnFX7hBVfVSoXiD7OgH6iRT-xyIuqDnpYQ']) {
    t.false(isValidRoomId(bad), bad);
  }
});

test('serverNameOf takes everything after the first colon', (t) => {
  t.is(serverNameOf('@alice:example.org'), 'example.org');
  t.is(serverNameOf('@alice:[::1]:8448'), '[::1]:8448');
  t.is(serverNameOf('!room:127.0.0.1:18448'), '127.0.0.1:18448');
  t.is(serverNameOf('#alias:example.org'), 'example.org');
  t.is(serverNameOf('!Nhcu5BS-UMnFX7hBVfVSoXiD7OgH6iRT-xyIuqDnpYQ'), undefined);
  t.is(serverNameOf('$Rqnc-F-dvnEYJTyHq_iKxU2bZ1CI92-kuZq3a5lr5Zg'), undefined);
});
