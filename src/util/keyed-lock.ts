/**
 * Serialises async read-modify-write sequences per key (one user's record, one room's DAG), so two
 * requests cannot interleave between reading and writing back. In-process only: LevelDB admits a
 * single process (storage/db.ts).
 */
export class KeyedLock<K = string> {
  private readonly tails = new Map<K, Promise<unknown>>();

  async run<T>(key: K, task: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const current = previous.then(task, task);
    const tail = current.catch(() => undefined);
    this.tails.set(key, tail);
    try {
      return await current;
    } finally {
      // Drop the entry once nobody queued behind us, so the map does not grow with every key ever seen.
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }
}
