import test from 'ava';
import { newestOwnEventTs } from '../../src/federation/clock/recorded-time.js';

const floorMs = Date.UTC(2026, 11, 1);
const hour = 3600 * 1000;

function reads(events: { sender: string; ts: number }[]) {
  // Stream positions 1..n, newest last.
  return {
    asked: [] as number[],
    async streamBefore(before: number, limit: number) {
      this.asked.push(before);
      return events.map((_, i) => ({ stream: i + 1, roomShort: 1, eventShort: i + 1 })).filter((e) => e.stream < before).reverse().slice(0, limit);
    },
    async eventByShort(short: number) {
      const e = events[short - 1];
      return e && { pdu: { sender: e.sender, origin_server_ts: e.ts } };
    },
  };
}

test('the newest timestamp of our own events at the stream\'s end; other servers\' and impossible ones are no evidence', async (t) => {
  const r = reads([
    { sender: '@ann:home.example', ts: floorMs + 2 * hour },
    { sender: '@ben:other.example', ts: floorMs + 9 * hour },
    { sender: '@ann:home.example', ts: floorMs + 5 * hour },
    { sender: '@ann:home.example', ts: 0 },
    { sender: '@ann:home.example', ts: Date.UTC(2099, 0, 1) },
  ]);
  t.is(await newestOwnEventTs(r, 'home.example', 5, floorMs), floorMs + 5 * hour);
  t.deepEqual(r.asked, [6]);
});

test('no event of ours: no evidence', async (t) => {
  t.is(await newestOwnEventTs(reads([{ sender: '@ben:other.example', ts: floorMs + hour }]), 'home.example', 1, floorMs), undefined);
  t.is(await newestOwnEventTs(reads([]), 'home.example', 0, floorMs), undefined);
});
