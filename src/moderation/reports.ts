/**
 * Reporting content (client-server "Reporting Content"): events, rooms and users reported to the
 * server's administrators. Each report is stored and logged (a warning: the household's admins
 * should see it in the gateway's log), and the admins list and close event reports through
 * Synapse's admin API (`/_synapse/admin/v1/event_reports`), which tools such as synapse-admin use.
 *
 * Checks the spec asks for: an event report needs the reporter to be joined to the room now
 * ("servers MUST verify that the reporting user is currently joined"); room and user reports must
 * not depend on membership.
 */
import type { Logger } from 'pino';
import type { RoomEngine } from '../rooms/engine.js';
import { notFound } from '../core/errors.js';
import type { ReportRecord, ReportStore } from '../storage/reports.js';

export type { ReportRecord };

export interface ReportServiceDeps {
  store: ReportStore;
  engine: RoomEngine;
  userExists(userId: string): Promise<boolean>;
  log: Logger;
  now?: () => number;
}

export class ReportService {
  constructor(private readonly deps: ReportServiceDeps) {}

  async reportEvent(reporter: string, roomId: string, eventId: string, reason: string, score?: number): Promise<ReportRecord> {
    const event = await this.deps.engine.getEvent(eventId);
    // Unknown, elsewhere, redacted or not joined: one answer (report_content.yaml 404).
    const joined = this.deps.engine.room(roomId) !== undefined && (await this.deps.engine.isJoined(reporter, roomId));
    if (!joined || !event || event.room_id !== roomId || event.meta.redactedBy) throw notFound('The event was not found or you are not joined to the room.');
    return this.add({ kind: 'event', reporter, reason, roomId, eventId, ...(score !== undefined ? { score } : {}) });
  }

  async reportRoom(reporter: string, roomId: string, reason: string): Promise<ReportRecord> {
    if (!this.deps.engine.room(roomId)) throw notFound('The room was not found.');
    return this.add({ kind: 'room', reporter, reason, roomId });
  }

  async reportUser(reporter: string, userId: string, reason: string): Promise<ReportRecord> {
    if (!(await this.deps.userExists(userId))) throw notFound('The user was not found.');
    return this.add({ kind: 'user', reporter, reason, userId });
  }

  get(id: number): Promise<ReportRecord | undefined> {
    return this.deps.store.get(id);
  }

  delete(id: number): Promise<void> {
    return this.deps.store.delete(id);
  }

  list(opts: { dir: 'f' | 'b'; from?: number; limit: number }): Promise<ReportRecord[]> {
    return this.deps.store.list(opts);
  }

  private async add(report: Omit<ReportRecord, 'id' | 'receivedTs'>): Promise<ReportRecord> {
    const record = await this.deps.store.add({ ...report, receivedTs: this.deps.now?.() ?? Date.now() });
    this.deps.log.warn({ report: record }, `content reported: ${record.kind}`);
    return record;
  }
}
