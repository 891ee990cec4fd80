/**
 * Schema migrations. Each entry upgrades the store from `from` to `from + 1` and is run in order on
 * open; the last step writes the new `schema_version`. Version 1 is the initial layout. To change
 * the layout, add `000N-<what>.ts` and an entry here, and update docs/storage.md.
 */
import type { Database } from '../db.js';
import { STORAGE_VERSION } from '../keyspaces.js';
import { indexRelations } from './0002-relations.js';
import { unambiguousKeys } from './0003-unambiguous-keys.js';
import { markUnreadCountsForRebuild } from './0004-unread-counts.js';

interface Migration {
  from: number;
  run(db: Database): Promise<void>;
}

const MIGRATIONS: Migration[] = [
  // 2: the relations index (client-server "Relationships API", threads).
  { from: 1, run: indexRelations },
  // 3: tuple keys unambiguous by construction; transaction ids scoped per endpoint.
  { from: 2, run: unambiguousKeys },
  // 4: unread counts kept with the events (push_actions, unread_counts), rebuilt by the push module.
  { from: 3, run: markUnreadCountsForRebuild },
];

export async function runMigrations(db: Database, current: number): Promise<void> {
  for (let v = current; v < STORAGE_VERSION; v++) {
    const step = MIGRATIONS.find((m) => m.from === v);
    if (!step) throw new Error(`no migration from storage version ${v}`);
    await step.run(db);
    await db.write([db.putMeta('schema_version', v + 1)]);
  }
}
