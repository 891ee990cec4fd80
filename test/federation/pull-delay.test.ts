/**
 * When the catch-up pull runs after a server became reachable (federation/catchup/pull-delay.ts):
 * after the settle time, then not while the server is still pushing PDUs (its own catch-up), and
 * at the latest after the maximum wait.
 */
import test from 'ava';
import { pullDelay } from '../../src/federation/catchup/pull-delay.js';

const opts = { settleMs: 1500, maxWaitMs: 30_000 };
const reachableAt = 1_000_000;

test('not before the settle time after it became reachable', (t) => {
  t.is(pullDelay(reachableAt, reachableAt, undefined, opts), 1500);
  t.is(pullDelay(reachableAt + 1000, reachableAt, undefined, opts), 500);
});

test('a server that pushed nothing lately is pulled once the settle time is over', (t) => {
  t.is(pullDelay(reachableAt + 1500, reachableAt, undefined, opts), 0);
  t.is(pullDelay(reachableAt + 1500, reachableAt, reachableAt - 60_000, opts), 0, 'a push long before does not count');
});

test('while the server is still pushing PDUs the pull waits for a quiet settle time', (t) => {
  // Pushed 200 ms ago: wait the rest of 1.5 s from that push.
  t.is(pullDelay(reachableAt + 5000, reachableAt, reachableAt + 4800, opts), 1300);
  // Quiet for 1.5 s: pull.
  t.is(pullDelay(reachableAt + 6300, reachableAt, reachableAt + 4800, opts), 0);
});

test('a server that never stops pushing is pulled at the latest after the maximum wait', (t) => {
  t.is(pullDelay(reachableAt + 29_500, reachableAt, reachableAt + 29_400, opts), 500, 'never past the maximum');
  t.is(pullDelay(reachableAt + 30_000, reachableAt, reachableAt + 29_999, opts), 0);
});
