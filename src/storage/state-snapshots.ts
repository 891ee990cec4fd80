/**
 * Room state snapshots as deltas (never full state per event; cf. Synapse's state groups).
 * A snapshot is `{ parent, chainLength, delta }` where delta maps short state keys to short event
 * ids; it is re-based onto a full copy when the chain of parents gets long, so loading one is bounded.
 * Snapshot 0 is the empty state. `(type, state_key)` pairs are interned as u32 short ids.
 */
import type { BatchOp, Database } from './db.js';
import { encodeJson, readU32, readU64, splitStrings, tuple, u32, u64 } from './codec.js';
import { LruCache } from './lru.js';
import { stateKey } from '../core/types.js';

/** short state key -> short event id. */
export type ShortStateMap = Map<number, number>;

interface SnapshotRecord {
  parent: number;
  chainLength: number;
  /** [stateKeyShort, eventShort]; an eventShort of 0 removes the key (not used by rooms today). */
  delta: [number, number][];
}

/** Past this many links, a new snapshot stores the full state instead of a delta. */
const MAX_CHAIN = 24;

export class StateSnapshotStore {
  private readonly snapshots = new LruCache<number, ShortStateMap>(128);
  private readonly chainLengths = new LruCache<number, number>(4096);
  /** `stateKey(type, state_key)` (unambiguous: core/types.ts) -> short. */
  private readonly keyShorts = new Map<string, number>();
  private readonly keysByShort = new Map<number, [string, string]>();
  private nextSnapshot = 1;
  private nextStateKey = 1;

  constructor(private readonly db: Database) {}

  async open(): Promise<void> {
    for await (const key of this.db.space('stateSnapshot').keys({ reverse: true, limit: 1 })) {
      this.nextSnapshot = readU64(key) + 1;
    }
    // State keys are few (types x keys across all rooms): intern them all at start.
    for await (const [key, value] of this.db.space('stateKeyShort').iterator()) {
      const { strings } = splitStrings(key, 2);
      const short = readU32(value);
      this.keyShorts.set(stateKey(strings[0]!, strings[1]!), short);
      this.keysByShort.set(short, [strings[0]!, strings[1]!]);
      if (short >= this.nextStateKey) this.nextStateKey = short + 1;
    }
  }

  /** The short id of a `(type, state_key)`, interning it within `ops` if new. */
  stateKeyShortTxn(ops: BatchOp[], type: string, key: string): number {
    const joined = stateKey(type, key);
    let short = this.keyShorts.get(joined);
    if (short === undefined) {
      short = this.nextStateKey++;
      this.keyShorts.set(joined, short);
      this.keysByShort.set(short, [type, key]);
      ops.push(this.db.put('stateKeyShort', tuple(type, key), u32(short)));
      ops.push(this.db.put('stateKeyByShort', u32(short), tuple(type, key)));
    }
    return short;
  }

  lookupStateKeyShort(type: string, key: string): number | undefined {
    return this.keyShorts.get(stateKey(type, key));
  }

  stateKeyOf(short: number): [type: string, stateKey: string] {
    const k = this.keysByShort.get(short);
    if (!k) throw new Error(`unknown state key short ${short}`);
    return k;
  }

  async load(snapshot: number): Promise<ShortStateMap> {
    if (snapshot === 0) return new Map();
    const cached = this.snapshots.get(snapshot);
    if (cached) return cached;
    const chain: SnapshotRecord[] = [];
    let id = snapshot;
    let base: ShortStateMap | undefined;
    while (id !== 0) {
      const hit = this.snapshots.get(id);
      if (hit) {
        base = hit;
        break;
      }
      const rec = await this.db.getJson<SnapshotRecord>('stateSnapshot', u64(id));
      if (!rec) throw new Error(`state snapshot ${id} missing`);
      chain.push(rec);
      id = rec.parent;
    }
    const map: ShortStateMap = new Map(base ?? []);
    for (let i = chain.length - 1; i >= 0; i--) {
      for (const [k, ev] of chain[i]!.delta) {
        if (ev === 0) map.delete(k);
        else map.set(k, ev);
      }
    }
    this.snapshots.set(snapshot, map);
    return map;
  }

  /**
   * Adds a snapshot that is `parent` plus `changes` to the batch and returns its id. `parentMap`
   * is the loaded parent state (callers have it at hand).
   */
  async createTxn(ops: BatchOp[], parent: number, parentMap: ShortStateMap, changes: [number, number][]): Promise<number> {
    const id = this.nextSnapshot++;
    const parentChain = parent === 0 ? 0 : await this.chainLength(parent);
    const full: ShortStateMap = new Map(parentMap);
    for (const [k, ev] of changes) {
      if (ev === 0) full.delete(k);
      else full.set(k, ev);
    }
    const rec: SnapshotRecord =
      parentChain + 1 > MAX_CHAIN || parent === 0
        ? { parent: 0, chainLength: 0, delta: [...full.entries()] }
        : { parent, chainLength: parentChain + 1, delta: changes };
    ops.push(this.db.put('stateSnapshot', u64(id), encodeJson(rec)));
    this.snapshots.set(id, full);
    this.chainLengths.set(id, rec.chainLength);
    return id;
  }

  private async chainLength(id: number): Promise<number> {
    const cached = this.chainLengths.get(id);
    if (cached !== undefined) return cached;
    const rec = await this.db.getJson<SnapshotRecord>('stateSnapshot', u64(id));
    const len = rec?.chainLength ?? 0;
    this.chainLengths.set(id, len);
    return len;
  }
}

