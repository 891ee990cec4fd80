import test from 'ava';
import { RateLimiter, addressKey } from '../../src/limits/rate-limiter.js';
import { BoundedWorkQueue, WorkQueueFullError } from '../../src/limits/work-queue.js';
import { SharedSecretRegistration } from '../../src/accounts/shared-secret.js';

function clock(start = 1_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => void (now += ms) };
}

test('a bucket allows burst_count actions, then answers the wait until the next one', (t) => {
  const c = clock();
  const limiter = new RateLimiter({ perSecond: 0.5, burstCount: 3 }, { now: c.now });
  t.is(limiter.take('a'), 0);
  t.is(limiter.take('a'), 0);
  t.is(limiter.take('a'), 0);
  t.is(limiter.take('a'), 2000, 'one action per 2 s at 0.5/s');
  t.is(limiter.take('b'), 0, 'keys are independent');
  c.advance(1500);
  t.is(limiter.take('a'), 500);
  c.advance(500);
  t.is(limiter.take('a'), 0);
  t.is(limiter.take('a'), 2000);
});

test('retryAfterMs only looks; record takes even from an empty bucket (failures already happened)', (t) => {
  const c = clock();
  const limiter = new RateLimiter({ perSecond: 1, burstCount: 2 }, { now: c.now });
  t.is(limiter.retryAfterMs('x'), 0);
  limiter.record('x');
  limiter.record('x');
  t.is(limiter.retryAfterMs('x'), 1000);
  t.is(limiter.retryAfterMs('x'), 1000, 'looking takes nothing');
  limiter.record('x');
  t.is(limiter.retryAfterMs('x'), 2000, 'a failure past the limit pushes the wait further');
  limiter.reset('x');
  t.is(limiter.retryAfterMs('x'), 0);
});

test('memory is bounded, and full buckets are forgotten before draining ones', (t) => {
  const c = clock();
  const limiter = new RateLimiter({ perSecond: 1, burstCount: 2 }, { now: c.now, maxKeys: 100 });
  // The victim is locked out, then a stranger names 10,000 other keys.
  limiter.take('victim');
  limiter.take('victim');
  for (let i = 0; i < 10_000; i++) {
    limiter.take(`stranger-${i}`);
    if (i % 50 === 0) c.advance(1); // time passes, not enough to refill the victim
  }
  t.true(limiter.size <= 100);
  // The strangers' buckets are not full either (each took one), so the LRU order decides; but a
  // stranger whose bucket refilled goes first: refill everything except what is touched below.
  const c2 = clock();
  const second = new RateLimiter({ perSecond: 1, burstCount: 2 }, { now: c2.now, maxKeys: 3 });
  second.take('old-full'); // will refill
  c2.advance(5000);
  second.take('victim');
  second.take('victim');
  second.take('other');
  second.take('newcomer'); // evicts one: the refilled 'old-full', not the victim
  t.is(second.retryAfterMs('victim'), 1000);
  t.is(second.size, 3);
});

test('addressKey: IPv4 as is, IPv4-mapped IPv6 as IPv4, IPv6 by its /64', (t) => {
  t.is(addressKey('192.0.2.7'), '192.0.2.7');
  t.is(addressKey('::ffff:192.0.2.7'), '192.0.2.7');
  t.is(addressKey('2001:db8:1:2:aaaa::1'), '2001:db8:1:2::/64');
  t.is(addressKey('2001:db8:1:2:bbbb:cccc:dddd:eeee'), '2001:db8:1:2::/64', 'one /64, one key');
  t.is(addressKey('2001:0DB8:0001:0002::9'), '2001:db8:1:2::/64');
  t.is(addressKey('::1'), '0:0:0:0::/64');
  t.is(addressKey('fe80::1%eth0'), 'fe80:0:0:0::/64');
  t.is(addressKey(undefined), 'unknown');
  t.is(addressKey('not:an:address:::'), 'not:an:address:::');
});

test('the work queue runs `concurrency` jobs, queues `maxWaiting`, refuses the next at once', async (t) => {
  const queue = new BoundedWorkQueue({ name: 'test', concurrency: 1, maxWaiting: 2, typicalJobMs: 100 });
  const releases: Array<() => void> = [];
  const started: number[] = [];
  const job = (i: number) => () =>
    new Promise<number>((resolve) => {
      started.push(i);
      releases.push(() => resolve(i));
    });
  const runs = [queue.run(job(1)), queue.run(job(2)), queue.run(job(3))];
  const refused = await queue.run(job(4)).catch((err: unknown) => err);
  t.true(refused instanceof WorkQueueFullError);
  t.true((refused as WorkQueueFullError).retryAfterMs >= 1000);
  await Promise.resolve();
  t.deepEqual(started, [1], 'one at a time');
  t.deepEqual(queue.depth, { running: 1, waiting: 2 });
  for (let i = 0; i < 3; i++) {
    while (releases.length <= i) await new Promise((r) => setImmediate(r));
    releases[i]!();
  }
  t.deepEqual(await Promise.all(runs), [1, 2, 3]);
  t.deepEqual(started, [1, 2, 3], 'in order');
  t.deepEqual(queue.depth, { running: 0, waiting: 0 });
  t.is(await queue.run(async () => 5), 5, 'usable again once drained');
});

test('shared-secret nonces: bounded, expired ones dropped, single use', (t) => {
  const c = clock();
  const reg = new SharedSecretRegistration('secret', c.now);
  const first = reg.issueNonce();
  for (let i = 0; i < 5000; i++) reg.issueNonce();
  t.is(reg.outstanding, 1000, 'a stranger asking for nonces cannot grow the set past its bound');
  t.is(reg.check({ nonce: first, username: 'a', password: 'b', admin: false, mac: 'x' }), 'unknown_nonce', 'the oldest went first');
  c.advance(61_000);
  reg.issueNonce();
  t.is(reg.outstanding, 1, 'expired nonces are dropped');
});
