import test from 'ava';
import { effectiveFloor, judgeClock, MAX_AHEAD_OF_FLOOR_MS, RECORDED_TOLERANCE_MS, RELEASE_FLOOR_MS } from '../../src/federation/clock/clock-sanity.js';

const floorMs = Date.UTC(2026, 11, 1);
const day = 24 * 3600 * 1000;

test('a clock at or after the floor, with nothing recorded, is right', (t) => {
  t.deepEqual(judgeClock(floorMs, { floorMs }), { sane: true });
  t.deepEqual(judgeClock(floorMs + 400 * day, { floorMs }), { sane: true });
});

test('a clock before the floor (a Pi booted at 1970, an RTC default date) is wrong, saying what it reads and the floor', (t) => {
  for (const nowMs of [0, Date.UTC(2000, 0, 1), floorMs - 1]) {
    const j = judgeClock(nowMs, { floorMs });
    t.false(j.sane);
    t.like(j, { problem: 'before-floor' });
    t.true(!j.sane && j.reason.includes(new Date(nowMs).toISOString()) && j.reason.includes('2026-12-01T00:00:00.000Z'), JSON.stringify(j));
  }
});

test('a clock behind the newest time this server recorded (a fake-hwclock restore) is wrong, small steps back are not', (t) => {
  const recorded = floorMs + 30 * day;
  const behind = judgeClock(recorded - 2 * 3600 * 1000, { floorMs, newestRecordedMs: recorded });
  t.like(behind, { sane: false, problem: 'before-recorded' });
  t.true(!behind.sane && behind.reason.includes(new Date(recorded).toISOString()));
  t.deepEqual(judgeClock(recorded - RECORDED_TOLERANCE_MS, { floorMs, newestRecordedMs: recorded }), { sane: true });
  t.like(judgeClock(recorded - RECORDED_TOLERANCE_MS - 1, { floorMs, newestRecordedMs: recorded }), { sane: false, problem: 'before-recorded' });
  t.deepEqual(judgeClock(recorded + 1, { floorMs, newestRecordedMs: recorded }), { sane: true });
});

test('the floor is checked before the record: a 1970 clock says it is before the earliest possible date', (t) => {
  t.like(judgeClock(0, { floorMs, newestRecordedMs: floorMs + day }), { sane: false, problem: 'before-floor' });
});

test('a clock implausibly far after the floor (RTC garbage) is wrong', (t) => {
  t.deepEqual(judgeClock(floorMs + MAX_AHEAD_OF_FLOOR_MS, { floorMs }), { sane: true });
  t.like(judgeClock(floorMs + MAX_AHEAD_OF_FLOOR_MS + 1, { floorMs }), { sane: false, problem: 'far-future' });
  t.like(judgeClock(Date.UTC(2106, 1, 7), { floorMs }), { sane: false, problem: 'far-future' });
});

test('a configured floor counts only when later than the release date', (t) => {
  t.is(effectiveFloor(undefined), RELEASE_FLOOR_MS);
  t.is(effectiveFloor(Date.UTC(2020, 0, 1)), RELEASE_FLOOR_MS);
  t.is(effectiveFloor(RELEASE_FLOOR_MS + day), RELEASE_FLOOR_MS + day);
});
