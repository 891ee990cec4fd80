import test from 'ava';
import { parseReadingLine } from '../../devices/agent/stdin-source.js';

test('key=value lines: numbers parsed, other values kept as text', (t) => {
  t.deepEqual(parseReadingLine('temperature=21.5 humidity=40 state=ON'), { values: { temperature: 21.5, humidity: 40, state: 'ON' } });
});

test('JSON lines with an ISO or numeric ts', (t) => {
  t.deepEqual(parseReadingLine('{"temperature":22,"ts":"2025-01-01T00:00:00Z"}'), { values: { temperature: 22 }, ts: Date.UTC(2025, 0, 1) });
  t.deepEqual(parseReadingLine('{"on":true,"ts":1700000000000}'), { values: { on: true }, ts: 1700000000000 });
});

test('blank and comment lines are skipped; malformed ones throw', (t) => {
  t.is(parseReadingLine('   '), undefined);
  t.is(parseReadingLine('# header'), undefined);
  t.throws(() => parseReadingLine('temperature'), { message: /key=value/ });
  t.throws(() => parseReadingLine('{"nested":{"a":1}}'), { message: /number, string or boolean/ });
  t.throws(() => parseReadingLine('{"x":1,"ts":"yesterday"}'), { message: /bad ts/ });
});
