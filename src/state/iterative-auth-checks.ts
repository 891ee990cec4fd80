/**
 * rooms/v2 "State resolution" -> "Iterative auth checks": apply each event, in order, to a
 * growing state if the authorisation rules allow it against that state; ignore it otherwise.
 */
import type { StateIdMap } from '../core/types.js';
import { stateKey } from '../core/types.js';
import { authEventKeys } from './auth-events.js';
import { checkEventAuth } from './auth-rules.js';
import type { ResolutionContext } from './state-res-context.js';
import { authStateOfEvent, requireEvent } from './state-res-context.js';

export function iterativeAuthChecks(initialState: StateIdMap, eventIds: readonly string[], ctx: ResolutionContext): StateIdMap {
  const state: StateIdMap = new Map(initialState);
  for (const id of eventIds) {
    const event = requireEvent(id, ctx);
    const { type, state_key: stateKeyValue, sender, content } = event.pdu;
    if (stateKeyValue === undefined) continue;
    // Each key the auth rules need is taken from the state built so far; a key the state lacks
    // falls back to the event's own (non-rejected) auth event.
    const authState = authStateOfEvent(event, ctx);
    for (const key of authEventKeys(type, stateKeyValue, sender, content, ctx.rules)) {
      const current = state.get(key);
      const currentEvent = current === undefined ? undefined : ctx.getEvent(current);
      if (currentEvent) authState.set(key, currentEvent);
    }
    if (checkEventAuth(event, authState, ctx.rules).allowed) state.set(stateKey(type, stateKeyValue), id);
  }
  return state;
}
