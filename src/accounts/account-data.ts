/**
 * Account data (modules/account_data.md "Client Config"): per-user global and per-room JSON blobs,
 * delivered by `/sync`. Each write takes a stream position and a side-stream entry, so a sync after
 * a token finds exactly what changed. `m.push_rules` is served from the push rules service.
 */
import { compositeKey, type JsonObject } from '../core/types.js';
import type { StreamNotifier } from '../stream/notifier.js';
import { AccountDataStore } from '../storage/client-data.js';
import type { BatchOp, Database } from '../storage/db.js';
import { SideStreamStore } from '../stream/side-stream.js';
import type { PushRulesService } from './push-rules.js';

/** An event of the `account_data` sections of `/sync`. */
export interface AccountDataEvent {
  type: string;
  content: JsonObject;
}

export interface AccountDataChanges {
  global: AccountDataEvent[];
  rooms: Map<string, AccountDataEvent[]>;
}

/** Types the server manages; clients set them through their own APIs (account-data.yaml, 405). */
export const SERVER_MANAGED_ACCOUNT_DATA = new Set(['m.push_rules', 'm.fully_read']);

const PUSH_RULES = 'm.push_rules';

export class AccountDataService {
  private readonly store: AccountDataStore;
  private readonly sideStream: SideStreamStore;
  private readonly listeners = new Set<(userId: string, roomId: string, type: string) => void>();

  constructor(
    private readonly db: Database,
    private readonly notifier: StreamNotifier,
    private readonly pushRules: Pick<PushRulesService, 'pushRulesFor'>,
  ) {
    this.store = new AccountDataStore(db);
    this.sideStream = new SideStreamStore(db);
  }

  /** The current content, or undefined. `roomId` '' is global account data. */
  async get(userId: string, roomId: string, type: string): Promise<JsonObject | undefined> {
    if (roomId === '' && type === PUSH_RULES) return (await this.pushRules.pushRulesFor(userId)) as unknown as JsonObject;
    return (await this.store.get(userId, roomId, type))?.content;
  }

  /**
   * Stores account data without restriction on the type: the read markers API writes
   * `m.fully_read` here; the client route refuses server-managed types itself.
   */
  async put(userId: string, roomId: string, type: string, content: JsonObject): Promise<void> {
    const position = this.notifier.reserve();
    try {
      const ops: BatchOp[] = [];
      this.store.putTxn(ops, userId, { roomId, type, content, stream: position });
      this.sideStream.appendTxn(ops, position, { kind: 'account_data', userId, roomId, type });
      await this.db.write(ops);
      for (const listener of this.listeners) listener(userId, roomId, type);
    } finally {
      this.notifier.settle(position);
    }
  }

  /** Called after each stored change (before the stream position settles); returns the unsubscribe function. */
  onChange(listener: (userId: string, roomId: string, type: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Everything, for an initial sync: stored entries plus `m.push_rules`. */
  async allAccountData(userId: string): Promise<AccountDataChanges> {
    const changes: AccountDataChanges = { global: [], rooms: new Map() };
    for (const e of await this.store.listForUser(userId)) add(changes, e.roomId, { type: e.type, content: e.content });
    add(changes, '', { type: PUSH_RULES, content: (await this.pushRules.pushRulesFor(userId)) as unknown as JsonObject });
    return changes;
  }

  /**
   * What changed for the user in `(from, to]`, with current contents; an undefined `from` means an
   * initial sync and returns everything. (A token at position 0 is incremental: nothing before it.)
   */
  async accountDataSince(userId: string, from: number | undefined, to: number): Promise<AccountDataChanges> {
    if (from === undefined) return this.allAccountData(userId);
    const changed = new Map<string, { roomId: string; type: string }>();
    for await (const { entry } of this.sideStream.range(from, to)) {
      if (entry.kind === 'account_data' && entry.userId === userId) {
        changed.set(compositeKey(entry.roomId, entry.type), { roomId: entry.roomId, type: entry.type });
      }
    }
    const changes: AccountDataChanges = { global: [], rooms: new Map() };
    for (const { roomId, type } of changed.values()) {
      const content = await this.get(userId, roomId, type);
      if (content !== undefined) add(changes, roomId, { type, content });
    }
    return changes;
  }
}

function add(changes: AccountDataChanges, roomId: string, event: AccountDataEvent): void {
  if (roomId === '') {
    changes.global.push(event);
    return;
  }
  const list = changes.rooms.get(roomId);
  if (list) list.push(event);
  else changes.rooms.set(roomId, [event]);
}
