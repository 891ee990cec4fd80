/**
 * A bounded walk backwards through the global stream over some rooms, newest event first: what
 * `/search` and `/notifications` do instead of keeping indexes of their own. It examines at most
 * `maxExamined` events of the chosen rooms (and ten times as many entries of other rooms, which
 * cost one key each), so one request stays cheap however long the history.
 */
import type { RoomEngine, StoredEvent } from './engine.js';

const STREAM_BATCH = 500;

export class BackwardStreamWalk {
  /**
   * Where a later walk continues (its `before`) when this one stopped at its bound; undefined when
   * it reached the start of the stream. A consumer that stops early keeps its own position.
   */
  resumeBefore: number | undefined;

  constructor(
    private readonly engine: RoomEngine,
    private before: number,
    private readonly includes: (roomShort: number) => boolean,
    private readonly maxExamined: number,
  ) {}

  async *events(): AsyncGenerator<StoredEvent> {
    let examined = 0;
    let iterated = 0;
    for (;;) {
      const entries = await this.engine.streamBefore(this.before, STREAM_BATCH);
      if (entries.length === 0) {
        this.resumeBefore = undefined;
        return;
      }
      for (const entry of entries) {
        const ours = this.includes(entry.roomShort);
        if (++iterated > this.maxExamined * 10 || (ours && ++examined > this.maxExamined)) {
          // Not examined: the next walk starts with it.
          this.resumeBefore = this.before;
          return;
        }
        this.before = entry.stream;
        if (!ours) continue;
        const event = await this.engine.eventByShort(entry.eventShort);
        if (event) yield event;
      }
    }
  }
}
