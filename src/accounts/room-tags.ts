/**
 * Room tags (client-server "Room Tagging"): the `m.tag` room account data event,
 * `{ tags: { "<tag>": { order?: number, ... } } }`, edited one tag at a time. Changes go through
 * account data, so they reach the user's other devices in `/sync` like any account data.
 */
import type { JsonObject } from '../core/types.js';
import { isJsonObject } from '../core/json-object.js';
import { KeyedLock } from '../util/keyed-lock.js';
import type { AccountDataService } from './account-data.js';

export const ROOM_TAGS = 'm.tag';

export class RoomTagsService {
  /** Adding and removing tags read, change and write one event: one at a time per user and room. */
  private readonly lock = new KeyedLock<string>();

  constructor(private readonly accountData: Pick<AccountDataService, 'get' | 'put'>) {}

  async tags(userId: string, roomId: string): Promise<JsonObject> {
    return tagsIn(await this.accountData.get(userId, roomId, ROOM_TAGS));
  }

  async setTag(userId: string, roomId: string, tag: string, info: JsonObject): Promise<void> {
    await this.change(userId, roomId, (tags) => ({ ...tags, [tag]: info }));
  }

  async removeTag(userId: string, roomId: string, tag: string): Promise<void> {
    await this.change(userId, roomId, (tags) => {
      const { [tag]: _removed, ...rest } = tags;
      return rest;
    });
  }

  private change(userId: string, roomId: string, edit: (tags: JsonObject) => JsonObject): Promise<void> {
    return this.lock.run(`${userId}\u0000${roomId}`, async () => {
      const current = await this.accountData.get(userId, roomId, ROOM_TAGS);
      await this.accountData.put(userId, roomId, ROOM_TAGS, { ...(current ?? {}), tags: edit(tagsIn(current)) });
    });
  }
}

function tagsIn(content: JsonObject | undefined): JsonObject {
  return isJsonObject(content?.tags) ? (content.tags as JsonObject) : {};
}
