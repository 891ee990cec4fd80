/**
 * Room tags (client-server "Room Tagging"): GET /user/{userId}/rooms/{roomId}/tags,
 * PUT and DELETE /user/{userId}/rooms/{roomId}/tags/{tag}.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { isValidRoomId } from '../../core/identifiers.js';
import { isJsonObject } from '../../core/json-object.js';
import type { RoomTagsService } from '../../accounts/room-tags.js';
import type { Authenticator } from '../../http/auth.js';
import { ErrCode, MatrixError, badJson, forbidden } from '../../core/errors.js';

export interface TagsDeps {
  auth: Authenticator;
  tags: RoomTagsService;
}

/** "The name of a tag MUST NOT exceed 255 bytes." */
const MAX_TAG_BYTES = 255;

type Params = { userId: string; roomId: string; tag?: string };

export function registerTagRoutes(app: FastifyInstance, deps: TagsDeps): void {
  /** Tags are the owner's own: nobody else reads or changes them. */
  const owner = async (req: FastifyRequest<{ Params: Params }>) => {
    const requester = await deps.auth.requireUser(req);
    if (requester.userId !== req.params.userId) throw forbidden('Cannot access the tags of other users');
    if (!isValidRoomId(req.params.roomId)) throw new MatrixError(400, ErrCode.INVALID_PARAM, 'Invalid room id');
    const tag = req.params.tag;
    if (tag !== undefined && (tag.length === 0 || Buffer.byteLength(tag) > MAX_TAG_BYTES)) {
      throw new MatrixError(400, ErrCode.INVALID_PARAM, `A tag is 1 to ${MAX_TAG_BYTES} bytes`);
    }
  };

  app.get<{ Params: Params }>('/_matrix/client/v3/user/:userId/rooms/:roomId/tags', async (req) => {
    await owner(req);
    return { tags: await deps.tags.tags(req.params.userId, req.params.roomId) };
  });

  app.put<{ Params: Params }>('/_matrix/client/v3/user/:userId/rooms/:roomId/tags/:tag', async (req) => {
    await owner(req);
    if (!isJsonObject(req.body)) throw badJson('The tag information must be an object');
    // "order": "a number between 0 and 1"; other keys are the client's and are kept.
    const order = req.body.order;
    if (order !== undefined && (typeof order !== 'number' || order < 0 || order > 1)) {
      throw new MatrixError(400, ErrCode.INVALID_PARAM, 'order must be a number between 0 and 1');
    }
    await deps.tags.setTag(req.params.userId, req.params.roomId, req.params.tag!, req.body);
    return {};
  });

  app.delete<{ Params: Params }>('/_matrix/client/v3/user/:userId/rooms/:roomId/tags/:tag', async (req) => {
    await owner(req);
    await deps.tags.removeTag(req.params.userId, req.params.roomId, req.params.tag!);
    return {};
  });
}
