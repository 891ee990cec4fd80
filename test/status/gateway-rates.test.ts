/** Rates of the gateway's figures from kept counter samples (src/status/gateway-rates.ts), taken when the figures are asked for. */
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

test('GatewayRates keeps a sample at most every interval, an hour of them', (t) => {
  let clock = 0;
  let events = 0;
  const rates = new GatewayRates(10_000);
  rates.at(sample(clock, { events }));
  clock = 10_000;
  events = 50;
  t.is(rates.at(sample(clock, { events })).eventsPerSecond, 5);
  // Asked again 5 s later: answered from the start's sample, the 10 s sample not replaced.
  clock = 15_000;
  events = 60;
  t.is(rates.at(sample(clock, { events })).eventsPerSecond, 4);
  // Two hours of asking every 10 s at 2 events/s: the answer covers the last minute, the samples an hour.
  for (let i = 0; i < 720; i++) {
    clock += 10_000;
    events += 20;
    rates.at(sample(clock, { events }));
  }
  const figures = rates.at(sample(clock + 10_000, { events: events + 20 }));
  t.is(figures.eventsPerSecond, 2);
  t.is(figures.writeWindowSeconds, 3600);
  t.true((rates as unknown as { samples: unknown[] }).samples.length <= 362);
});

test('a per-second rate covers the last minute only: a busy first minute does not linger', (t) => {
  // 10 readings/s for the first minute, then 1/s; asked every 10 s.
  const rates = new GatewayRates(10_000);
  let readings = 0;
  rates.at(sample(0, { readings }));
  let figures = rates.at(sample(0, { readings }));
  t.is(figures.readingsPerSecond, 0, 'no time passed');
  for (let s = 1; s <= 12; s++) {
    readings += s <= 6 ? 100 : 10;
    figures = rates.at(sample(s * 10_000, { readings }));
  }
  // At 120 s: the oldest sample within the minute is at 60 s (600 readings); now 660.
  t.is(figures.readingsPerSecond, 1);
  t.is(figures.rateWindowSeconds, 60);
});
