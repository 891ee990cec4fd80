/** Rates of the status page's gateway panel from kept counter samples (src/status/gateway-rates.ts). */
import test from 'ava';
import { GatewayRates, ratesAt, type CounterSample } from '../../src/status/gateway-rates.js';

const sample = (t: number, n: Partial<CounterSample> = {}): CounterSample => ({ t, events: 0, readings: 0, mqttMessages: 0, journalBytes: 0, writeBytes: 0, ...n });

test('per-second rates over the last minute, bytes per hour over the last hour', (t) => {
  // Samples every 10 s for two hours: 2 events/s, 200 readings/s, 1 MB written per 10 s.
  const samples: CounterSample[] = [];
  for (let s = 0; s <= 7200; s += 10) samples.push(sample(s * 1000, { events: 2 * s, readings: 200 * s, mqttMessages: 100 * s, writeBytes: 100_000 * s, journalBytes: 1000 * s }));
  const now = samples.pop()!;
  const window = samples.slice(-360);
  const rates = ratesAt(window, now);
  t.is(rates.eventsPerSecond, 2);
  t.is(rates.readingsPerSecond, 200);
  t.is(rates.mqttMessagesPerSecond, 100);
  t.is(rates.bytesWrittenPerHour, 360_000_000);
  t.is(rates.journalBytesPerHour, 3_600_000);
  t.is(rates.rateWindowSeconds, 60);
  t.is(rates.writeWindowSeconds, 3600);
});

test('just after the start the windows are what there is; no samples or no time gives zero, never NaN', (t) => {
  const rates = ratesAt([sample(0)], sample(5000, { events: 10, writeBytes: 4096 }));
  t.is(rates.eventsPerSecond, 2);
  t.is(rates.rateWindowSeconds, 5);
  t.is(rates.bytesWrittenPerHour, Math.round(4096 * 720));
  const none = ratesAt([], sample(5000, { events: 10 }));
  t.is(none.eventsPerSecond, 0);
  t.is(none.bytesWrittenPerHour, 0);
});

test('without /proc/self/io there is no bytes-written figure, the journal figure stays', (t) => {
  const noIo = (s: number, journalBytes: number): CounterSample => ({ t: s, events: 0, readings: 0, mqttMessages: 0, journalBytes });
  const rates = ratesAt([noIo(0, 0)], noIo(3_600_000, 5000));
  t.is(rates.bytesWrittenPerHour, undefined);
  t.is(rates.journalBytesPerHour, 5000);
});

test('after a quiet spell the rates cover the time since the newest sample before the window', (t) => {
  const rates = ratesAt([sample(0), sample(1000, { writeBytes: 0 })], sample(3 * 3_600_000 + 1000, { writeBytes: 3_000_000, events: 10_800 }));
  t.is(rates.writeWindowSeconds, 3 * 3600);
  t.is(rates.bytesWrittenPerHour, 1_000_000);
  t.is(rates.eventsPerSecond, 1);
});

test('GatewayRates reads the counters for each answer and keeps a sample at most every interval, an hour of them', async (t) => {
  let clock = 0;
  let events = 0;
  let reads = 0;
  const rates = new GatewayRates({ intervalMs: 10_000, read: async () => (reads++, sample(clock, { events })) });
  await rates.start();
  clock = 10_000;
  events = 50;
  t.is((await rates.current()).eventsPerSecond, 5);
  // Asked again 5 s later: answered from the start's sample, the 10 s sample not replaced.
  clock = 15_000;
  events = 60;
  t.is((await rates.current()).eventsPerSecond, 4);
  t.is(reads, 3);
  // Two hours of asking every 10 s at 2 events/s: the answer covers the last minute, the samples an hour.
  for (let i = 0; i < 720; i++) {
    clock += 10_000;
    events += 20;
    await rates.current();
  }
  const figures = await rates.current();
  t.is(figures.eventsPerSecond, 2);
  t.is(figures.writeWindowSeconds, 3600);
  t.true((rates as unknown as { samples: unknown[] }).samples.length <= 362);
});
