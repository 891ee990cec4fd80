/**
 * GET /_matrix/client/v1/org.hearth/rooms/{roomId}/telemetry/{sensor}?from=&to=&resolution=
 *
 * A sensor's history (docs/telemetry.md "History endpoint"). Authorised by room membership: the
 * caller must be joined to the device room, as for reading its timeline. `from`/`to` are ms since
 * the epoch (default: the last 24 hours); `resolution` is `raw`, `5m`, `1h` or `auto` (default).
 * In an area room the sensor is named `<device>/<sensor>`, its state key there.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { forbidden, invalidParam, notFound } from '../../core/errors.js';
import type { QueryResult, Resolution } from '../../telemetry/model.js';

export interface TelemetryRouteDeps {
  requireUser(req: FastifyRequest): Promise<{ userId: string }>;
  isJoined(userId: string, roomId: string): Promise<boolean>;
  /** The telemetry stream a room's sensor maps to (`MqttBridge.resolveStream`). */
  resolveStream(roomId: string, sensor: string): string | undefined;
  /** `TelemetryStore.query`. */
  query(stream: string, from: number, to: number, resolution: Resolution | 'auto'): Promise<QueryResult>;
  now?: () => number;
}

const RESOLUTIONS = new Set(['raw', '5m', '1h', 'auto']);
const DAY_MS = 86_400_000;

export function registerTelemetryRoutes(app: FastifyInstance, deps: TelemetryRouteDeps): void {
  app.get<{ Params: { roomId: string; sensor: string }; Querystring: Record<string, string | undefined> }>(
    '/_matrix/client/v1/org.hearth/rooms/:roomId/telemetry/:sensor',
    async (req) => {
      const { userId } = await deps.requireUser(req);
      const { roomId, sensor } = req.params;
      if (!(await deps.isJoined(userId, roomId))) throw forbidden('You are not joined to this room.');
      const { from, to, resolution } = parseHistoryQuery(req.query, (deps.now ?? Date.now)());
      const stream = deps.resolveStream(roomId, sensor);
      if (!stream) throw notFound('No such sensor in this room.');
      const result = await deps.query(stream, from, to, resolution);
      return { sensor, from, to, resolution: result.resolution, points: result.points };
    },
  );
}

/**
 * `from`, `to` and `resolution` of a history request (this endpoint's and the status page's): ms
 * since the epoch, by default the 24 hours up to `now`; `auto` unless a resolution is named.
 */
export function parseHistoryQuery(query: Record<string, string | undefined>, now: number): { from: number; to: number; resolution: Resolution | 'auto' } {
  const to = parseTime(query.to, 'to') ?? now;
  const from = parseTime(query.from, 'from') ?? to - DAY_MS;
  if (from > to) throw invalidParam('from must not be after to');
  const resolution = query.resolution ?? 'auto';
  if (!isResolution(resolution)) throw invalidParam('resolution must be raw, 5m, 1h or auto');
  return { from, to, resolution };
}

function isResolution(raw: string): raw is Resolution | 'auto' {
  return RESOLUTIONS.has(raw);
}

function parseTime(raw: string | undefined, name: string): number | undefined {
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!/^\d{1,16}$/.test(raw) || !Number.isSafeInteger(n)) throw invalidParam(`${name} must be milliseconds since the epoch`);
  return n;
}
