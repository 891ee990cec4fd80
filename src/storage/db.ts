/**
 * The LevelDB store: opens the database, hands out the sublevels of the catalog (keyspaces.ts),
 * checks the schema version, and writes multi-keyspace atomic batches.
 *
 * Durability: writes are not fsync'd one by one. LevelDB appends each batch to its log with write(2)
 * before the promise resolves, so a SIGKILL of the process loses nothing acknowledged; only a power
 * cut can lose the last moments. That trade keeps SD-card wear low (see docs/storage.md).
 */
import { Level } from 'level';
import type { AbstractSublevel, AbstractBatchOperation } from 'abstract-level';
import { KEYSPACES, STORAGE_VERSION, type KeyspaceName } from './keyspaces.js';
import { decodeJson, encodeJson } from './codec.js';
import { runMigrations } from './migrations/index.js';

export type Keyspace = AbstractSublevel<Level<Buffer, Buffer>, string | Buffer | Uint8Array, Buffer, Buffer>;
export type BatchOp = AbstractBatchOperation<Level<Buffer, Buffer>, Buffer, Buffer>;

export interface DatabaseOptions {
  cacheSizeBytes: number;
  writeBufferSizeBytes: number;
}

export class Database {
  private readonly spaces = new Map<KeyspaceName, Keyspace>();

  private constructor(readonly root: Level<Buffer, Buffer>) {}

  static async open(path: string, opts: DatabaseOptions): Promise<Database> {
    const root = new Level<Buffer, Buffer>(path, {
      keyEncoding: 'buffer',
      valueEncoding: 'buffer',
      cacheSize: opts.cacheSizeBytes,
      writeBufferSize: opts.writeBufferSizeBytes,
      // Fewer open table files keeps RSS and file handles down on small gateways.
      maxOpenFiles: 64,
    });
    try {
      await root.open();
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      if (cause?.message?.includes('lock')) {
        throw new Error(`the database at ${path} is in use by another process (is the gateway running?)`);
      }
      throw err;
    }
    const db = new Database(root);
    // A sublevel opens asynchronously after it is created, and getSync() refuses one still opening:
    // open the whole catalog now so synchronous reads work from the first request.
    await Promise.all((Object.keys(KEYSPACES) as KeyspaceName[]).map((name) => db.space(name).open()));
    await db.checkSchema();
    return db;
  }

  /** The sublevel for one key space of the catalog. */
  space(name: KeyspaceName): Keyspace {
    let s = this.spaces.get(name);
    if (!s) {
      s = this.root.sublevel<Buffer, Buffer>(KEYSPACES[name], { keyEncoding: 'buffer', valueEncoding: 'buffer' });
      this.spaces.set(name, s);
    }
    return s;
  }

  /** A put operation for a multi-keyspace batch. */
  put(name: KeyspaceName, key: Buffer, value: Buffer): BatchOp {
    return { type: 'put', sublevel: this.space(name), key, value } as unknown as BatchOp;
  }

  del(name: KeyspaceName, key: Buffer): BatchOp {
    return { type: 'del', sublevel: this.space(name), key } as unknown as BatchOp;
  }

  /** Writes all operations atomically. */
  async write(ops: BatchOp[]): Promise<void> {
    if (ops.length > 0) await this.root.batch(ops);
  }

  /**
   * A point read on the calling thread. The async `get` hands every read to libuv's thread pool and
   * back (~35 us here, against ~1 us for the read itself when LevelDB's block cache or bloom filter
   * answers); for small keys read on every request (send transaction ids, memberships) the hop
   * costs more than the read. A read that misses the cache blocks the event loop for one block read.
   */
  getSync(name: KeyspaceName, key: Buffer): Buffer | undefined {
    return this.space(name).getSync(key);
  }

  getJsonSync<T>(name: KeyspaceName, key: Buffer): T | undefined {
    const v = this.getSync(name, key);
    return v === undefined ? undefined : decodeJson<T>(v);
  }

  async getJson<T>(name: KeyspaceName, key: Buffer): Promise<T | undefined> {
    const v = await this.space(name).get(key);
    return v === undefined ? undefined : decodeJson<T>(v);
  }

  putJson(name: KeyspaceName, key: Buffer, value: unknown): BatchOp {
    return this.put(name, key, encodeJson(value));
  }

  async getMeta<T>(name: string): Promise<T | undefined> {
    return this.getJson<T>('meta', Buffer.from(name));
  }

  putMeta(name: string, value: unknown): BatchOp {
    return this.putJson('meta', Buffer.from(name), value);
  }

  private async checkSchema(): Promise<void> {
    const version = await this.getMeta<number>('schema_version');
    if (version === undefined) {
      await this.write([this.putMeta('schema_version', STORAGE_VERSION)]);
      return;
    }
    if (version > STORAGE_VERSION) {
      throw new Error(`database schema ${version} is newer than this Hearth (${STORAGE_VERSION}); upgrade Hearth`);
    }
    await runMigrations(this, version);
  }

  async close(): Promise<void> {
    await this.root.close();
  }
}
