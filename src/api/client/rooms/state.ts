/**
 * Room state (client-server-api "Getting events for a room" / "Sending events to a room"):
 * GET /rooms/{roomId}/state, GET and PUT /rooms/{roomId}/state/{eventType}/{stateKey}.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { forbidden, notFound } from '../../../core/errors.js';
import { stateKey } from '../../../core/types.js';
import type { RoomApiDeps } from './deps.js';
import { requireEventContentBody } from './params.js';
import { checkCanonicalAliases } from '../../../rooms/canonical-alias.js';

type StateParams = { Params: { roomId: string; eventType: string; stateKey?: string }; Querystring: { format?: string } };

export function registerStateRoutes(app: FastifyInstance, deps: RoomApiDeps): void {
  /** GET /_matrix/client/v3/rooms/{roomId}/state */
  app.get<{ Params: { roomId: string } }>('/_matrix/client/v3/rooms/:roomId/state', async (req) => {
    const user = await deps.requireUser(req);
    const state = await readableState(deps, user.userId, req.params.roomId);
    return deps.formatter.formatAll([...state.values()] , { userId: user.userId, deviceId: user.deviceId });
  });

  const getOne = async (req: FastifyRequest<StateParams>) => {
    const user = await deps.requireUser(req);
    const { roomId, eventType } = req.params;
    const key = req.params.stateKey ?? '';
    const state = await readableState(deps, user.userId, roomId);
    const event = state.get(stateKey(eventType, key));
    if (!event) throw notFound('Event not found');
    if (req.query.format === 'event') return deps.formatter.format(event , { userId: user.userId, deviceId: user.deviceId });
    return event.meta.redactedBy ? (await deps.formatter.format(event)).content : event.pdu.content;
  };
  /** GET /_matrix/client/v3/rooms/{roomId}/state/{eventType}/{stateKey} */
  app.get<StateParams>('/_matrix/client/v3/rooms/:roomId/state/:eventType/:stateKey', getOne);
  app.get<StateParams>('/_matrix/client/v3/rooms/:roomId/state/:eventType', getOne);

  const putOne = async (req: FastifyRequest<StateParams>) => {
    const user = await deps.requireUser(req);
    const content = requireEventContentBody(req.body);
    const { roomId, eventType } = req.params;
    deps.limitSend?.(user.userId);
    deps.engine.requireRoom(roomId);
    if (!(await deps.engine.isJoined(user.userId, roomId)) && eventType !== 'm.room.member') {
      throw forbidden(`User ${user.userId} not in room ${roomId}`);
    }
    const key = req.params.stateKey ?? '';
    const { eventId } = await deps.engine.sendEvent(
      roomId,
      { type: eventType, sender: user.userId, state_key: key, content },
      eventType === 'm.room.canonical_alias' ? { vet: (_event, state) => checkCanonicalAliases(content, state.get(stateKey(eventType, key))?.pdu.content, roomId, deps.resolveAlias) } : {},
    );
    return { event_id: eventId };
  };
  /** PUT /_matrix/client/v3/rooms/{roomId}/state/{eventType}/{stateKey} */
  app.put<StateParams>('/_matrix/client/v3/rooms/:roomId/state/:eventType/:stateKey', putOne);
  app.put<StateParams>('/_matrix/client/v3/rooms/:roomId/state/:eventType', putOne);
}

/** Current state for members; for former members, the state when they left. */
async function readableState(deps: RoomApiDeps, userId: string, roomId: string) {
  const upTo = await deps.timeline.readableUpTo(userId, roomId);
  const membership = await deps.engine.membershipOf(userId, roomId);
  if (membership === 'join') return deps.engine.currentState(roomId);
  if (membership === 'invite' || membership === 'knock') throw forbidden('Join the room to see its state');
  return deps.timeline.stateAtPosition(roomId, upTo);
}
