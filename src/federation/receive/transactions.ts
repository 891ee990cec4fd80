/**
 * `PUT /_matrix/federation/v1/send/{txnId}` (server-server "Transactions"): at most 50 PDUs and
 * 100 EDUs from one origin. Each PDU gets its own result and one failure never fails the others;
 * a transaction seen before (same origin and txnId, kept durably) is answered as it was the first
 * time without being processed again.
 */
import type { Logger } from 'pino';
import { ErrCode, MatrixError } from '../../core/errors.js';
import { isJsonObject } from '../../core/json-object.js';
import type { JsonObject } from '../../core/types.js';
import type { Database } from '../../storage/db.js';
import { tuple } from '../../storage/codec.js';
import { LruCache } from '../../storage/lru.js';
import type { PduHandler } from './pdu-handler.js';

export const MAX_PDUS_PER_TXN = 50;
export const MAX_EDUS_PER_TXN = 100;

/** Handles the EDUs of one type (`m.typing`, `m.receipt`, ...) from an authenticated origin. */
export type EduHandler = (origin: string, content: JsonObject) => Promise<void>;

export class TransactionReceiver {
  private readonly eduHandlers = new Map<string, EduHandler>();
  /** Transactions being processed now: a retry of one in flight waits for the same answer. */
  private readonly inFlight = new Map<string, Promise<JsonObject>>();
  private readonly recent = new LruCache<string, JsonObject>(256);
  /** When each origin last pushed PDUs (the catch-up pull waits while a server is still pushing). */
  private readonly lastPdus = new LruCache<string, number>(256);

  constructor(private readonly deps: { db: Database; pdus: PduHandler; log: Logger }) {}

  /** When `origin` last sent us a transaction with PDUs (its start or end, whichever is later), if recently. */
  lastPdusFrom(origin: string): number | undefined {
    return this.lastPdus.get(origin);
  }

  onEdu(type: string, handler: EduHandler): void {
    this.eduHandlers.set(type, handler);
  }

  async receive(origin: string, txnId: string, body: unknown): Promise<JsonObject> {
    if (!isJsonObject(body)) throw new MatrixError(400, ErrCode.BAD_JSON, 'The transaction must be an object');
    const pdus = body.pdus ?? [];
    const edus = body.edus ?? [];
    if (!Array.isArray(pdus) || !Array.isArray(edus)) throw new MatrixError(400, ErrCode.BAD_JSON, 'pdus and edus must be arrays');
    if (pdus.length > MAX_PDUS_PER_TXN || edus.length > MAX_EDUS_PER_TXN) {
      throw new MatrixError(400, ErrCode.BAD_JSON, `At most ${MAX_PDUS_PER_TXN} PDUs and ${MAX_EDUS_PER_TXN} EDUs per transaction`);
    }
    const key = `${origin}\u0000${txnId}`;
    const cached = this.recent.get(key);
    if (cached) return cached;
    const running = this.inFlight.get(key);
    if (running) return running;
    const stored = await this.deps.db.getJson<{ results: JsonObject }>('federationTxns', tuple(origin, txnId));
    if (stored) return { pdus: stored.results };
    const work = this.process(origin, txnId, pdus, edus).finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, work);
    return work;
  }

  private async process(origin: string, txnId: string, pdus: unknown[], edus: unknown[]): Promise<JsonObject> {
    const results: JsonObject = {};
    if (pdus.length > 0) this.lastPdus.set(origin, Date.now());
    // PDUs in order: a transaction lists a room's events oldest first, so each finds its prev events.
    for (const pdu of pdus) {
      const outcome = await this.deps.pdus.receive(origin, pdu);
      if (outcome.eventId) results[outcome.eventId] = outcome.error ? { error: outcome.error } : {};
      else if (outcome.error) this.deps.log.debug({ origin, error: outcome.error }, 'dropped a PDU without an id');
    }
    for (const edu of edus) {
      if (!isJsonObject(edu) || typeof edu.edu_type !== 'string' || !isJsonObject(edu.content)) continue;
      const handler = this.eduHandlers.get(edu.edu_type);
      if (!handler) continue;
      try {
        await handler(origin, edu.content);
      } catch (err) {
        this.deps.log.debug({ origin, type: edu.edu_type, err: (err as Error).message }, 'EDU ignored');
      }
    }
    if (pdus.length > 0) this.lastPdus.set(origin, Date.now());
    const answer = { pdus: results };
    await this.deps.db.write([this.deps.db.putJson('federationTxns', tuple(origin, txnId), { ts: Date.now(), results })]);
    this.recent.set(`${origin}\u0000${txnId}`, answer);
    return answer;
  }
}
