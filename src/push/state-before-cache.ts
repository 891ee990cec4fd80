/**
 * The room state before an event, cached by snapshot: push rules are evaluated against it, and
 * consecutive messages share one snapshot, so a few entries save most loads.
 */
import type { RoomEngine, StoredEvent, StoredStateMap } from '../rooms/engine.js';
import { LruCache } from '../storage/lru.js';

export class StateBeforeCache {
  private readonly states: LruCache<number, StoredStateMap>;

  constructor(
    private readonly engine: RoomEngine,
    size: number,
  ) {
    this.states = new LruCache(size);
  }

  async of(event: StoredEvent): Promise<StoredStateMap> {
    const snapshot = event.meta.stateBefore;
    let state = this.states.get(snapshot);
    if (!state) {
      state = await this.engine.loadSnapshot(snapshot);
      this.states.set(snapshot, state);
    }
    return state;
  }
}
