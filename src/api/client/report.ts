/**
 * Reporting content (client-server "Reporting Content", `report_content.yaml`):
 * POST /rooms/{roomId}/report/{eventId}, POST /rooms/{roomId}/report, POST /users/{userId}/report;
 * and the admins' side, Synapse's admin API: GET /_synapse/admin/v1/event_reports,
 * GET and DELETE /_synapse/admin/v1/event_reports/{id}.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { isJsonObject } from '../../core/json-object.js';
import type { JsonObject } from '../../core/types.js';
import { ErrCode, MatrixError, badJson, forbidden, notFound } from '../../core/errors.js';
import type { ReportRecord, ReportService } from '../../moderation/reports.js';
import type { RoomEngine } from '../../rooms/engine.js';

export interface ReportDeps {
  requireUser(req: FastifyRequest): Promise<{ userId: string; isAdmin: boolean }>;
  reports: ReportService;
  engine: RoomEngine;
}

/** Reasons are free text; a bound keeps one report from filling the card. */
const MAX_REASON_CHARS = 1000;

function reasonOf(body: unknown, required: boolean): string {
  if (body !== undefined && !isJsonObject(body)) throw badJson('Body must be a JSON object');
  const reason = isJsonObject(body) ? body.reason : undefined;
  if (reason === undefined) {
    if (required) throw new MatrixError(400, ErrCode.MISSING_PARAM, 'reason is required (it may be empty)');
    return '';
  }
  if (typeof reason !== 'string') throw badJson('reason must be a string');
  if (reason.length > MAX_REASON_CHARS) throw new MatrixError(400, ErrCode.INVALID_PARAM, `reason is limited to ${MAX_REASON_CHARS} characters`);
  return reason;
}

export function registerReportRoutes(app: FastifyInstance, deps: ReportDeps): void {
  app.post<{ Params: { roomId: string; eventId: string } }>('/_matrix/client/v3/rooms/:roomId/report/:eventId', async (req) => {
    const user = await deps.requireUser(req);
    const reason = reasonOf(req.body, false);
    const score = isJsonObject(req.body) ? req.body.score : undefined;
    if (score !== undefined && (!Number.isInteger(score) || (score as number) < -100 || (score as number) > 0)) {
      throw new MatrixError(400, ErrCode.INVALID_PARAM, 'score must be an integer from -100 to 0');
    }
    await deps.reports.reportEvent(user.userId, req.params.roomId, req.params.eventId, reason, score as number | undefined);
    return {};
  });

  app.post<{ Params: { roomId: string } }>('/_matrix/client/v3/rooms/:roomId/report', async (req) => {
    const user = await deps.requireUser(req);
    await deps.reports.reportRoom(user.userId, req.params.roomId, reasonOf(req.body, true));
    return {};
  });

  app.post<{ Params: { userId: string } }>('/_matrix/client/v3/users/:userId/report', async (req) => {
    const user = await deps.requireUser(req);
    await deps.reports.reportUser(user.userId, req.params.userId, reasonOf(req.body, true));
    return {};
  });

  const requireAdmin = async (req: FastifyRequest) => {
    const user = await deps.requireUser(req);
    if (!user.isAdmin) throw forbidden('You are not a server admin');
  };

  /** GET /_synapse/admin/v1/event_reports: `from` (offset), `limit`, `dir`, `room_id`, `user_id` as Synapse reads them. */
  app.get<{ Querystring: Record<string, string | undefined> }>('/_synapse/admin/v1/event_reports', async (req) => {
    await requireAdmin(req);
    const q = req.query;
    const from = q.from === undefined ? 0 : Number(q.from);
    const limit = q.limit === undefined ? 100 : Number(q.limit);
    if (!Number.isInteger(from) || from < 0) throw new MatrixError(400, ErrCode.INVALID_PARAM, 'from must be a non-negative integer');
    if (!Number.isInteger(limit) || limit < 0) throw new MatrixError(400, ErrCode.INVALID_PARAM, 'limit must be a non-negative integer');
    const dir = q.dir ?? 'b';
    if (dir !== 'b' && dir !== 'f') throw new MatrixError(400, ErrCode.INVALID_PARAM, 'dir must be b or f');
    // Reports are rare on a home server: read them all, filter, then page by offset as Synapse does.
    const all = (await deps.reports.list({ dir, limit: -1 })).filter(
      (r) => r.kind === 'event' && (q.room_id === undefined || r.roomId === q.room_id) && (q.user_id === undefined || r.reporter === q.user_id),
    );
    const page = all.slice(from, from + limit);
    const body: Record<string, unknown> = { event_reports: await Promise.all(page.map((r) => eventReportJson(deps.engine, r, false))), total: all.length };
    if (from + limit < all.length) body.next_token = from + limit;
    return body;
  });

  app.get<{ Params: { id: string } }>('/_synapse/admin/v1/event_reports/:id', async (req) => {
    await requireAdmin(req);
    const report = await reportById(deps, req.params.id);
    return eventReportJson(deps.engine, report, true);
  });

  app.delete<{ Params: { id: string } }>('/_synapse/admin/v1/event_reports/:id', async (req) => {
    await requireAdmin(req);
    const report = await reportById(deps, req.params.id);
    await deps.reports.delete(report.id);
    return {};
  });
}

async function reportById(deps: ReportDeps, raw: string): Promise<ReportRecord> {
  const id = Number(raw);
  if (!/^\d{1,15}$/.test(raw)) throw new MatrixError(400, ErrCode.INVALID_PARAM, 'The report id must be a number');
  const report = await deps.reports.get(id);
  if (!report || report.kind !== 'event') throw notFound('Event report not found');
  return report;
}

/** Synapse's event report shape; `event_json` (the reported PDU) in the details. */
async function eventReportJson(engine: RoomEngine, r: ReportRecord, details: boolean): Promise<JsonObject> {
  const event = r.eventId ? await engine.getEvent(r.eventId) : undefined;
  const room = r.roomId && engine.room(r.roomId) ? r.roomId : undefined;
  const name = room ? (await engine.stateEvent(room, 'm.room.name', ''))?.pdu.content.name : undefined;
  const alias = room ? (await engine.stateEvent(room, 'm.room.canonical_alias', ''))?.pdu.content.alias : undefined;
  const out: JsonObject = {
    id: r.id,
    received_ts: r.receivedTs,
    room_id: r.roomId ?? null,
    name: typeof name === 'string' ? name : null,
    event_id: r.eventId ?? null,
    user_id: r.reporter,
    reason: r.reason,
    score: r.score ?? null,
    sender: event?.pdu.sender ?? null,
    canonical_alias: typeof alias === 'string' ? alias : null,
  };
  if (details) out.event_json = event ? (event.pdu as unknown as JsonObject) : null;
  return out;
}
