/**
 * The status page's data API (docs/status-page.md "Data API"), on the client port under
 * `/_hearth/status/v1/`. Every route takes the Matrix access token of a server admin (the flag
 * `hearth user add --admin` sets, as the Synapse-style admin routes check it): no token is 401
 * M_MISSING_TOKEN, an unknown one 401 M_UNKNOWN_TOKEN, anyone else's 403 M_FORBIDDEN.
 *
 * - `GET gateway`: the gateway panel.
 * - `GET devices?since=&timeout=`: the devices; with `since` (the `next` of an earlier answer) only
 *   those changed after it, waiting up to `timeout` ms for a change (a long-poll).
 * - `GET devices/{device}/sensors/{sensor}/history?from=&to=&resolution=`: a sensor's history as
 *   columns for the chart.
 */
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { forbidden, invalidParam, notFound } from '../../core/errors.js';
import { LongPollGate } from '../../limits/long-polls.js';
import { limitExceeded } from '../../limits/client-limits.js';
import type { StatusService } from '../../status/status-service.js';
import { parseHistoryQuery } from './telemetry.js';

export const STATUS_API_PREFIX = '/_hearth/status/v1';
/** The longest a devices long-poll waits (longer asks are shortened, as /sync's are not refused). */
export const MAX_DEVICES_TIMEOUT_MS = 60_000;
/**
 * Parked device long-polls: a handful of admins with a tab or two each. Beyond these, 429
 * M_LIMIT_EXCEEDED with `retry_after_ms`, as for /sync (limits/long-polls.ts explains why not an
 * empty answer).
 */
const STATUS_LONG_POLLS = { maxLongPolls: 16, maxLongPollsPerUser: 4 };
const STATUS_RETRY_AFTER_MS = 2000;
/** Device keys and sensor keys are short identifiers (adapters' `deviceKey`); anything longer is not one. */
const MAX_KEY_LENGTH = 255;
/**
 * Answers from this size on go gzip-compressed to a browser that accepts it: the device list
 * repeats the same keys for every sensor (~6x smaller), and an open page asks for it every few
 * seconds while devices report.
 */
const GZIP_FROM_BYTES = 1024;
const gzipAsync = promisify(gzip);

export interface StatusRouteDeps {
  requireUser(req: FastifyRequest): Promise<{ userId: string; isAdmin: boolean }>;
  status: StatusService;
  now?: () => number;
}

export function registerStatusRoutes(app: FastifyInstance, deps: StatusRouteDeps): void {
  const longPolls = new LongPollGate(STATUS_LONG_POLLS);
  const requireAdmin = async (req: FastifyRequest) => {
    const user = await deps.requireUser(req);
    if (!user.isAdmin) throw forbidden('The status page is for server admins');
    return user;
  };

  app.get(`${STATUS_API_PREFIX}/gateway`, async (req, reply) => {
    await requireAdmin(req);
    return sendJson(req, reply, await deps.status.gateway());
  });

  app.get<{ Querystring: Record<string, string | undefined> }>(`${STATUS_API_PREFIX}/devices`, async (req, reply) => {
    const { userId } = await requireAdmin(req);
    const since = parseSince(req.query.since);
    const timeoutMs = parseTimeout(req.query.timeout);
    const position = deps.status.position;
    // A position of another run (the gateway restarted under an open page) means: everything.
    const serial = since !== undefined && since.epoch === position.epoch && since.serial <= position.serial ? since.serial : undefined;
    if (serial !== undefined && timeoutMs > 0) {
      const release = longPolls.enter(userId);
      if (!release) throw limitExceeded(STATUS_RETRY_AFTER_MS, 'status long-polls');
      const abort = new AbortController();
      reply.raw.once('close', () => abort.abort());
      try {
        await deps.status.waitForDevices(serial, timeoutMs, abort.signal);
      } finally {
        release();
      }
    }
    // Read after the wait: the answer covers everything up to `next`.
    const next = deps.status.position;
    const devices = await deps.status.devices(userId, serial);
    return sendJson(req, reply, { next: `${next.epoch}_${next.serial}`, full: serial === undefined, devices });
  });

  app.get<{ Params: { device: string; sensor: string }; Querystring: Record<string, string | undefined> }>(
    `${STATUS_API_PREFIX}/devices/:device/sensors/:sensor/history`,
    async (req, reply) => {
      await requireAdmin(req);
      const { device, sensor } = req.params;
      if (device.length > MAX_KEY_LENGTH || sensor.length > MAX_KEY_LENGTH) throw invalidParam('device and sensor are keys of at most 255 characters');
      const { from, to, resolution } = parseHistoryQuery(req.query, (deps.now ?? Date.now)());
      const history = await deps.status.history(device, sensor, from, to, resolution);
      if (!history) throw notFound('No such device or sensor');
      return sendJson(req, reply, history);
    },
  );
}

/** JSON, not cached, compressed when large and accepted. */
async function sendJson(req: FastifyRequest, reply: FastifyReply, body: unknown): Promise<FastifyReply> {
  const text = JSON.stringify(body);
  reply.header('cache-control', 'no-store');
  reply.header('content-type', 'application/json');
  reply.header('vary', 'accept-encoding');
  if (text.length >= GZIP_FROM_BYTES && /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''))) {
    reply.header('content-encoding', 'gzip');
    return reply.send(await gzipAsync(text, { level: 6 }));
  }
  return reply.send(text);
}

function parseSince(raw: string | undefined): { epoch: number; serial: number } | undefined {
  if (raw === undefined || raw === '') return undefined;
  const m = /^(\d{1,16})_(\d{1,16})$/.exec(raw);
  const epoch = Number(m?.[1]);
  const serial = Number(m?.[2]);
  if (!m || !Number.isSafeInteger(epoch) || !Number.isSafeInteger(serial)) throw invalidParam('since must be the next of an earlier answer');
  return { epoch, serial };
}

function parseTimeout(raw: string | undefined): number {
  if (raw === undefined || raw === '') return 0;
  const n = Number(raw);
  if (!/^\d{1,10}$/.test(raw) || !Number.isSafeInteger(n)) throw invalidParam('timeout must be milliseconds (a non-negative integer)');
  return Math.min(n, MAX_DEVICES_TIMEOUT_MS);
}

