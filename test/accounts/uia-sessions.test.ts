/**
 * UIA sessions stay bounded (accounts/uia-sessions.ts): anyone can start one with `POST /register`,
 * so the oldest is forgotten beyond the cap, and any is forgotten after its idle lifetime.
 */
import test from 'ava';
import { UiaChallenge, UserInteractiveAuth } from '../../src/accounts/uia.js';
import { MatrixError } from '../../src/core/errors.js';

const REQUIREMENT = { operation: 'POST /_matrix/client/v3/register', flows: [{ stages: ['m.login.dummy' as const] }] };

function makeUia(maxSessions: number, idleLifetimeMs: number) {
  const clock = { now: 1_000_000 };
  const uia = new UserInteractiveAuth(
    { checkPassword: async () => false, resolveUser: () => undefined, isValidRegistrationToken: () => false },
    { maxSessions, idleLifetimeMs, now: () => clock.now },
  );
  return { uia, clock };
}

async function startSession(uia: UserInteractiveAuth): Promise<string> {
  const err = await uia.authenticate(undefined, REQUIREMENT).then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof UiaChallenge)) throw new Error('expected a challenge');
  return err.body.session;
}

/** What a request naming the session (without a stage) gets: 401 (alive) or 400 (forgotten). */
async function statusOf(uia: UserInteractiveAuth, session: string): Promise<number> {
  const err = await uia.authenticate({ session }, REQUIREMENT).then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof MatrixError)) throw new Error('expected an error');
  return err.status;
}

test('beyond the cap the least recently used session is forgotten', async (t) => {
  const { uia } = makeUia(2, 60_000);
  const first = await startSession(uia);
  const second = await startSession(uia);
  t.is(await statusOf(uia, first), 401, 'using the first makes the second the least recent');
  const third = await startSession(uia);
  t.is(await statusOf(uia, second), 400);
  t.is(await statusOf(uia, first), 401);
  t.is(await statusOf(uia, third), 401);
});

test('a session unused for its idle lifetime is forgotten; use keeps it alive', async (t) => {
  const { uia, clock } = makeUia(100, 60_000);
  const idle = await startSession(uia);
  const busy = await startSession(uia);
  clock.now += 40_000;
  t.is(await statusOf(uia, busy), 401);
  clock.now += 40_000;
  t.is(await statusOf(uia, idle), 400, '80 s without use');
  t.is(await statusOf(uia, busy), 401, '40 s since its last use');
  const unknown = await uia.authenticate({ session: idle }, REQUIREMENT).catch((e: MatrixError) => e.toJSON());
  t.deepEqual(unknown, { errcode: 'M_UNKNOWN', error: 'Unknown or expired UIA session' });
});
