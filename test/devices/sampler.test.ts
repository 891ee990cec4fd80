/** The sampler: values of sensors sharing an interval go out together; bad reads and errors are counted and skipped. */
import test from 'ava';
import type { SensorValues } from '../../devices/agent/device.js';
import { Sampler } from '../../devices/agent/sources/sampler.js';
import { BadReadError, type SensorSource } from '../../devices/agent/sources/source.js';

function scripted(results: Array<number | Error>): SensorSource {
  let i = 0;
  return {
    description: 'scripted',
    read: async () => {
      const next = results[Math.min(i++, results.length - 1)]!;
      if (next instanceof Error) throw next;
      return next;
    },
  };
}

test('one poll: good values recorded together, a bad read and an error skipped and counted', async (t) => {
  const recorded: SensorValues[] = [];
  const events: string[] = [];
  const group = [
    { key: 'a', source: scripted([21.5]), intervalMs: 1000 },
    { key: 'b', source: scripted([new BadReadError('CRC mismatch')]), intervalMs: 1000 },
    { key: 'c', source: scripted([new Error('ENOENT')]), intervalMs: 1000 },
  ];
  const sampler = new Sampler(group, (values) => recorded.push(values));
  sampler.on('bad-read', (key: string) => events.push(`bad ${key}`));
  sampler.on('read-error', (key: string) => events.push(`error ${key}`));
  await sampler.pollOnce(group);
  t.deepEqual(recorded, [{ a: 21.5 }]);
  t.deepEqual(events, ['bad b', 'error c']);
  t.deepEqual(sampler.stats(), { a: { reads: 1, badReads: 0, errors: 0 }, b: { reads: 0, badReads: 1, errors: 0 }, c: { reads: 0, badReads: 0, errors: 1 } });
});

test('nothing readable: no empty reading is recorded', async (t) => {
  const recorded: SensorValues[] = [];
  const group = [{ key: 'b', source: scripted([new BadReadError('85 °C power-on reset value')]), intervalMs: 1000 }];
  const sampler = new Sampler(group, (values) => recorded.push(values));
  await sampler.pollOnce(group);
  t.deepEqual(recorded, []);
});

test('running: polls at start and keeps polling after a bad read; stop waits for the poll under way', async (t) => {
  const recorded: SensorValues[] = [];
  const source = scripted([new BadReadError('CRC mismatch'), 1, 2, 3]);
  const sampler = new Sampler([{ key: 'x', source, intervalMs: 100 }], (values) => recorded.push(values));
  sampler.start();
  await new Promise<void>((resolve) => {
    const check = setInterval(() => {
      if (recorded.length >= 2) {
        clearInterval(check);
        resolve();
      }
    }, 10);
  });
  await sampler.stop();
  t.deepEqual(recorded.slice(0, 2), [{ x: 1 }, { x: 2 }]);
  t.is(sampler.stats().x!.badReads, 1);
});
