/**
 * Who may see an event (client-server "Room History Visibility", "Server behaviour"). Pure: the
 * caller looks up the room state at the event; this decides.
 */

export type HistoryVisibility = 'world_readable' | 'shared' | 'invited' | 'joined';

const KNOWN: ReadonlySet<string> = new Set(['world_readable', 'shared', 'invited', 'joined']);

/** The `history_visibility` of an `m.room.history_visibility` content; absent or not understood means `shared`. */
export function historyVisibilityOf(content: Record<string, unknown> | undefined): HistoryVisibility {
  const value = content?.history_visibility;
  return typeof value === 'string' && KNOWN.has(value) ? (value as HistoryVisibility) : 'shared';
}

/** The state at one side of an event that matters to one user. */
export interface VisibilityState {
  visibility: HistoryVisibility;
  /** The user's membership then (undefined: never a member). */
  membership: string | undefined;
}

/**
 * The spec's five steps, for one side of the event:
 *  1. `world_readable`: allow;  2. the user was joined: allow;
 *  3. `shared` and the user joined the room at any point after the event: allow;
 *  4. the user was invited and the visibility was `invited`: allow;  5. deny.
 */
export function allowedAt(state: VisibilityState, joinedAfterEvent: boolean): boolean {
  if (state.visibility === 'world_readable') return true;
  if (state.membership === 'join') return true;
  if (state.visibility === 'shared' && joinedAfterEvent) return true;
  return state.membership === 'invite' && state.visibility === 'invited';
}

/**
 * Whether the user may see the event. `before` is the state before the event; `after` the state
 * after it, given only for the events the spec judges on both sides: `m.room.history_visibility`
 * events and the user's own `m.room.member` events ("allowed if the history_visibility before *or*
 * after the event would allow them to see it", likewise their membership).
 */
export function mayUserSeeEvent(before: VisibilityState, after: VisibilityState | undefined, joinedAfterEvent: boolean): boolean {
  return allowedAt(before, joinedAfterEvent) || (after !== undefined && allowedAt(after, joinedAfterEvent));
}
