/**
 * Stored filters (client-server-api "Filtering", POST /user/{userId}/filter). A filter's id is
 * derived from its canonical JSON, so a client uploading the same filter at every start (as Element
 * does) reuses one record instead of piling up new ones.
 */
import { createHash } from 'node:crypto';
import { canonicalJson } from '../core/canonical-json.js';
import type { JsonObject } from '../core/types.js';
import { badJson } from '../core/errors.js';
import { validateFilter, type SyncFilter } from '../rooms/filter.js';
import type { Database } from '../storage/db.js';
import { FilterStore } from '../storage/client-data.js';

export class FilterService {
  private readonly store: FilterStore;

  constructor(db: Database) {
    this.store = new FilterStore(db);
  }

  /** Validates and stores a filter; returns its id. */
  async createFilter(userId: string, filter: unknown): Promise<string> {
    let valid: SyncFilter;
    let canonical: string;
    try {
      valid = validateFilter(filter);
      // Canonical JSON also refuses what JSON cannot carry faithfully (floats, huge integers).
      canonical = canonicalJson(filter);
    } catch (err) {
      throw badJson(`Invalid filter: ${(err as Error).message}`);
    }
    // base64url never starts with "{": GET /sync tells inline filters from ids by that.
    const filterId = createHash('sha256').update(canonical).digest('base64url').slice(0, 16);
    if (!(await this.store.get(userId, filterId))) await this.store.put(userId, filterId, valid as JsonObject);
    return filterId;
  }

  async getFilter(userId: string, filterId: string): Promise<SyncFilter | undefined> {
    return (await this.store.get(userId, filterId)) as SyncFilter | undefined;
  }
}
