/**
 * Storage version 1 -> 2: the relations index (`relations`, `threads`, `thread_roots`) and the
 * `related` mark on parents, built from the events already stored. Events are read in short-id
 * order (creation order), so a parent is always seen before its children.
 */
import { REL_THREAD, relationOf } from '../../core/relations.js';
import type { Pdu } from '../../core/types.js';
import { decodeJson, encodeJson, readU64, u64 } from '../codec.js';
import type { BatchOp, Database } from '../db.js';
import type { EventMeta } from '../events.js';
import { RelationStore } from '../relations.js';

/** Operations per batch: bounded memory on a gateway with a long history. */
const BATCH_OPS = 2000;

export async function indexRelations(db: Database): Promise<void> {
  const relations = new RelationStore(db);
  const metaByShort = new Map<number, EventMeta>();
  const threads = new Map<number, { roomShort: number; latest: number }>();
  let ops: BatchOp[] = [];
  const flush = async () => {
    if (ops.length > 0) await db.write(ops);
    ops = [];
  };

  for await (const [key, json] of db.space('eventJson').iterator()) {
    const pdu = decodeJson<Pdu>(json);
    if (pdu.type === 'm.room.redaction') continue;
    const relation = relationOf(pdu.content);
    if (!relation) continue;
    const childShort = readU64(key);
    const parentShortBuf = await db.space('eventShortById').get(Buffer.from(relation.eventId, 'utf8'));
    if (parentShortBuf === undefined) continue;
    const parentShort = readU64(parentShortBuf);
    const [childMeta, parentMeta] = await Promise.all([metaOf(db, metaByShort, childShort), metaOf(db, metaByShort, parentShort)]);
    if (!childMeta || !parentMeta || childMeta.roomShort !== parentMeta.roomShort) continue;
    relations.addTxn(ops, parentShort, {
      childShort,
      stream: childMeta.stream,
      relType: relation.relType,
      type: pdu.type,
      sender: pdu.sender,
      ...(relation.key !== undefined ? { key: relation.key } : {}),
    });
    if (!parentMeta.related) {
      parentMeta.related = true;
      ops.push(db.put('eventMeta', u64(parentShort), encodeJson(parentMeta)));
    }
    if (relation.relType === REL_THREAD) {
      const thread = threads.get(parentShort);
      if (!thread || thread.latest < childMeta.stream) threads.set(parentShort, { roomShort: parentMeta.roomShort, latest: childMeta.stream });
    }
    if (ops.length >= BATCH_OPS) {
      await flush();
      metaByShort.clear();
    }
  }
  for (const [rootShort, { roomShort, latest }] of threads) relations.threadReplyTxn(ops, roomShort, rootShort, latest, undefined);
  await flush();
}

async function metaOf(db: Database, cache: Map<number, EventMeta>, short: number): Promise<EventMeta | undefined> {
  let meta = cache.get(short);
  if (!meta) {
    const v = await db.space('eventMeta').get(u64(short));
    if (v === undefined) return undefined;
    meta = decodeJson<EventMeta>(v);
    cache.set(short, meta);
  }
  return meta;
}
