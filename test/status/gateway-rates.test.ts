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

test('GatewayRates keeps at most an hour of samples and reads the counters for each answer', async (t) => {
  let clock = 0;
  let events = 0;
  const rates = new GatewayRates({ intervalMs: 1_000_000, read: async () => sample(clock, { events }) });
  await rates.start();
  clock = 10_000;
  events = 50;
  const figures = await rates.current();
  rates.stop();
  t.is(figures.eventsPerSecond, 5);
});
