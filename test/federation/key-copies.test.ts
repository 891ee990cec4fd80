/**
 * When other servers' copies of our signing key expire (issue 12 "Behind NAT"): fetches are known
 * by address, a destination's copy is the newest fetch from its addresses, seven days of validity,
 * kept across a restart; the log warns once a day before a copy expires, and once when it has.
 */
import test from 'ava';
import { KeyCopies, KeyCopyWatch, normalizeAddress, WARN_BEFORE_MS, type KeyCopiesDeps } from '../../src/federation/keys/key-copies.js';
import { PUBLISHED_KEY_VALIDITY_MS } from '../../src/federation/keys/keyring.js';

const DAY = 24 * 3600 * 1000;

/** The meta keyspace, in memory, counting the writes. */
function memoryMeta() {
  const meta = new Map<string, unknown>();
  let writes = 0;
  const db = {
    getMeta: async <T>(key: string) => meta.get(key) as T | undefined,
    putMeta: (key: string, value: unknown) => ({ key, value }) as never,
    write: async (ops: Array<{ key: string; value: unknown }>) => {
      writes++;
      for (const op of ops) meta.set(op.key, JSON.parse(JSON.stringify(op.value)));
    },
  };
  return { db, writes: () => writes };
}

test('a copy is the newest fetch from the destination\'s addresses, valid for the published seven days, and survives a restart', async (t) => {
  let now = Date.UTC(2026, 11, 1);
  const { db, writes } = memoryMeta();
  const copies = new KeyCopies({ db: db as unknown as KeyCopiesDeps['db'], validityMs: PUBLISHED_KEY_VALIDITY_MS, now: () => now });
  await copies.noteFetch('::ffff:192.0.2.10');
  now += 3600_000 / 2;
  await copies.noteFetch('2001:db8::1');
  t.deepEqual(copies.copyOf(['192.0.2.10']), { fetchedAt: Date.UTC(2026, 11, 1), expiresAt: Date.UTC(2026, 11, 1) + 7 * DAY });
  t.deepEqual(copies.copyOf(['192.0.2.10', '2001:DB8::1']), { fetchedAt: now, expiresAt: now + 7 * DAY }, 'the newest of its addresses');
  t.is(copies.copyOf(['198.51.100.7']), undefined, 'no fetch seen');
  t.is(writes(), 2);
  // Fetched again within the hour: remembered, not written again (a peer may fetch often).
  await copies.noteFetch('192.0.2.10');
  t.is(writes(), 2);
  t.is(copies.copyOf(['192.0.2.10'])?.fetchedAt, now);

  const restarted = new KeyCopies({ db: db as unknown as KeyCopiesDeps['db'], validityMs: PUBLISHED_KEY_VALIDITY_MS, now: () => now });
  await restarted.load();
  t.deepEqual(restarted.copyOf(['2001:db8::1']), { fetchedAt: now, expiresAt: now + 7 * DAY });
  t.is(normalizeAddress('::FFFF:10.0.0.1'), '10.0.0.1');
  t.is(normalizeAddress('::ffff:abcd'), '::ffff:abcd', 'only an IPv4-mapped address loses the prefix');
});

test('the log warns once when a copy expires within a day, and once more after it expired; status lists every destination', async (t) => {
  let now = Date.UTC(2026, 11, 1);
  const { db } = memoryMeta();
  const copies = new KeyCopies({ db: db as unknown as KeyCopiesDeps['db'], validityMs: PUBLISHED_KEY_VALIDITY_MS, now: () => now });
  await copies.noteFetch('192.0.2.10');
  const warnings: Array<{ obj: any; msg: string }> = [];
  const watch = new KeyCopyWatch({
    copies,
    destinations: () => ['synapse.example', 'behind-nat.example'],
    addressesOf: async (d) => (d === 'synapse.example' ? ['192.0.2.10'] : ['203.0.113.5']),
    log: { warn: (obj, msg) => warnings.push({ obj, msg }) },
    now: () => now,
  });
  t.deepEqual(await watch.status(), [
    { destination: 'synapse.example', fetchedAt: now, expiresAt: now + 7 * DAY },
    { destination: 'behind-nat.example' },
  ]);
  now += 5 * DAY;
  await watch.check();
  t.is(warnings.length, 0, 'two days left: nothing to say');
  now += 2 * DAY - WARN_BEFORE_MS + 1000;
  await watch.check();
  await watch.check();
  t.is(warnings.length, 1, 'said once');
  t.regex(warnings[0]!.msg, /^synapse\.example's copy of our signing key expires at 2026-12-08T00:00:00\.000Z: unless it fetches it again from our federation listener before then, it will refuse our transactions$/);
  t.like(warnings[0]!.obj, { destination: 'synapse.example', expiresAt: '2026-12-08T00:00:00.000Z' });
  now += DAY;
  await watch.check();
  t.is(warnings.length, 2);
  t.regex(warnings[1]!.msg, /expired at 2026-12-08T00:00:00\.000Z: it refuses our transactions until it can fetch it again/);
  // A new fetch gives a new copy: nothing to say until it nears its own end.
  await copies.noteFetch('192.0.2.10');
  await watch.check();
  t.is(warnings.length, 2);
});
