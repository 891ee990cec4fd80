/**
 * Whether the wall clock is plausible, pure (no I/O). Federation depends on "now": the X-Matrix
 * guard needs the origin's key "valid now" (server-server "Request Authentication"), our published
 * key set says `valid_until_ts` from now ("Publishing Keys"), a fetched key is trusted for at most
 * 7 days from its fetch (rooms/v5 "Signing key validity period"). A gateway without a real-time
 * clock (a Raspberry Pi) boots at 1970, at the RTC's default date, or at the last fake-hwclock
 * save until NTP sets it; judging keys with such a clock gets them wrong in both directions, and
 * what we sign with it misleads others. So a clock is judged wrong when it reads:
 * 1. before `floorMs`: the date of this release (a clock before it is certainly wrong), or later
 *    when the operator configured a later date (`federation.clock_not_before`);
 * 2. before the newest timestamp this server recorded with a clock it judged right (the newest
 *    `origin_server_ts` of its own events), less `RECORDED_TOLERANCE_MS`: time does not run
 *    backwards, but a fake-hwclock restore (saved hourly) lands before the last thing we did;
 * 3. more than `MAX_AHEAD_OF_FLOOR_MS` after the floor: an RTC with garbage reads far in the future,
 *    and trusting it would make us accept expired keys and publish keys valid for years.
 */

/** This release's date: no correct clock reads earlier. Raise it with each release. */
export const RELEASE_FLOOR_MS = Date.UTC(2026, 11, 1);
/** Small steps back (NTP corrections, a slewed clock) are not a clock that was never set. */
export const RECORDED_TOLERANCE_MS = 60_000;
/** Beyond this after the floor a clock reads garbage, not the future (a release is not run for 20 years). */
export const MAX_AHEAD_OF_FLOOR_MS = 20 * 365 * 24 * 3600 * 1000;

export interface ClockEvidence {
  /** No correct clock reads earlier: the release's date or a later configured one. */
  floorMs: number;
  /** The newest time this server recorded while its clock was right, if any. */
  newestRecordedMs?: number | undefined;
}

export type ClockProblem = 'before-floor' | 'before-recorded' | 'far-future';

export type ClockJudgement = { sane: true } | { sane: false; problem: ClockProblem; reason: string };

/** The steps of the header, in order; the first that fails says why. */
export function judgeClock(nowMs: number, evidence: ClockEvidence): ClockJudgement {
  const reads = new Date(nowMs).toISOString();
  if (nowMs < evidence.floorMs) {
    return { sane: false, problem: 'before-floor', reason: `the clock reads ${reads}, before ${new Date(evidence.floorMs).toISOString()}, the earliest possible date` };
  }
  const recorded = evidence.newestRecordedMs;
  if (recorded !== undefined && nowMs < recorded - RECORDED_TOLERANCE_MS) {
    return { sane: false, problem: 'before-recorded', reason: `the clock reads ${reads}, before ${new Date(recorded).toISOString()}, when this server last signed an event` };
  }
  if (nowMs > evidence.floorMs + MAX_AHEAD_OF_FLOOR_MS) {
    return { sane: false, problem: 'far-future', reason: `the clock reads ${reads}, implausibly far in the future` };
  }
  return { sane: true };
}

/**
 * The floor in effect: the release's date, or a configured one when later (a configured date
 * before the release's cannot make an impossible clock plausible).
 */
export function effectiveFloor(configuredMs: number | undefined): number {
  return configuredMs === undefined ? RELEASE_FLOOR_MS : Math.max(RELEASE_FLOOR_MS, configuredMs);
}
