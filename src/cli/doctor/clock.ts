/**
 * Clock sanity (`hearth doctor`), judged as federation judges it (federation/clock/clock-sanity.ts,
 * docs/federation.md "Clock"): a clock before this release's date (or `federation.clock_not_before`),
 * before the newest event this server signed (federation/clock/recorded-time.ts: a Pi without a
 * real-time clock booted at its last fake-hwclock save), or implausibly far ahead is wrong. A
 * running gateway's own judgement is reported (it keeps the newest signed time as it signs); with
 * the gateway stopped, the evidence is read from the database.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { effectiveFloor, judgeClock } from '../../federation/clock/clock-sanity.js';
import { newestOwnEventTs } from '../../federation/clock/recorded-time.js';
import { loadOrCreateKeyring, SIGNING_KEY_FILE } from '../../federation/keys/key-files.js';
import { RoomEngine } from '../../rooms/engine.js';
import { Database } from '../../storage/db.js';
import { StreamNotifier } from '../../stream/notifier.js';
import { lastStreamPosition } from '../../stream/stream-position.js';
import type { Check, Finding } from './findings.js';

const FIX = 'set the clock: enable NTP (timedatectl set-ntp true; the gateway needs the uplink for it) and check timedatectl status; a Pi keeps time across power cuts only with an RTC module or fake-hwclock. Federation waits while the clock is wrong; the home keeps working';

export const checkClock: Check = async ({ config, running, now }) => {
  const nowMs = now();
  if (running) {
    const c = running.clock;
    return [
      c.sane
        ? { check: 'clock', level: 'ok', message: `the gateway judges the clock right (${new Date(c.nowMs).toISOString()})` }
        : { check: 'clock', level: 'error', message: `${c.reason}: federation is paused`, fix: FIX },
    ];
  }
  const configured = config.federation.clockNotBefore === '' ? undefined : Date.parse(config.federation.clockNotBefore);
  const floorMs = effectiveFloor(configured);
  let newest: number | undefined;
  let evidence = 'no event signed by this server yet';
  try {
    newest = await newestSignedEvent(config.dataDir, config, floorMs);
    if (newest !== undefined) evidence = `the newest event this server signed is from ${new Date(newest).toISOString()}`;
  } catch (err) {
    evidence = `the newest signed event could not be read (${(err as Error).message})`;
  }
  const judgement = judgeClock(nowMs, { floorMs, newestRecordedMs: newest });
  const finding: Finding = judgement.sane
    ? { check: 'clock', level: 'ok', message: `${new Date(nowMs).toISOString()}; ${evidence}` }
    : { check: 'clock', level: 'error', message: judgement.reason, fix: FIX };
  return [finding];
};

/** The evidence the gateway reads at start, read the same way from a stopped gateway's database. */
async function newestSignedEvent(dataDir: string, config: { serverName: string }, floorMs: number): Promise<number | undefined> {
  const dbPath = join(dataDir, 'db');
  // No signing key: nothing was ever signed here.
  if (!existsSync(dbPath) || !existsSync(join(dataDir, SIGNING_KEY_FILE))) return undefined;
  // Opened as every offline command opens it (a data directory of an older version is migrated, as
  // its next start would); the database check before this one has read the files raw.
  const db = await Database.open(dbPath, { cacheSizeBytes: 1 << 20, writeBufferSizeBytes: 1 << 20 });
  try {
    // The name the data directory recorded (app/server-name.ts); read, never written, by the doctor.
    const serverName = (await db.getMeta<string>('server_name')) ?? config.serverName;
    const notifier = new StreamNotifier(await lastStreamPosition(db));
    const engine = new RoomEngine({ db, notifier, serverName, signingKey: loadOrCreateKeyring(dataDir, serverName).current, log: pino({ level: 'silent' }) });
    await engine.open();
    return await newestOwnEventTs(engine, serverName, notifier.position, floorMs);
  } finally {
    await db.close();
  }
}
