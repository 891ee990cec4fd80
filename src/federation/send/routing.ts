/**
 * Where an event goes (server-server "PDUs": a server sends its events to every other server in
 * the room): the servers with joined members in the room now, filtered by the room's server ACL,
 * plus the target's server of a membership event (a member leaving, kicked or banned still hears
 * of it although it is no longer "in the room"). Never anything of a room created with
 * `m.federate: false` (sensor rooms stay home).
 */
import { serverNameOf } from '../../core/identifiers.js';
import { stateKey } from '../../core/types.js';
import type { RoomEngine, StoredEvent } from '../../rooms/engine.js';
import { isServerAllowedByAcl } from './server-acl.js';
import { roomFederates } from '../../state/room-state.js';

export class EventRouting {
  constructor(
    private readonly engine: Pick<RoomEngine, 'currentState'>,
    private readonly serverName: string,
  ) {}

  /** The servers with joined members in a room now (ourselves excluded), filtered by the room's server ACL. */
  async serversInRoom(roomId: string): Promise<string[]> {
    const state = await this.engine.currentState(roomId);
    if (!roomFederates(state)) return [];
    const acl = state.get(stateKey('m.room.server_acl', ''))?.pdu.content;
    const servers = new Set<string>();
    for (const event of state.values()) {
      if (event.pdu.type !== 'm.room.member' || event.pdu.content.membership !== 'join') continue;
      const server = serverNameOf(event.pdu.state_key ?? '');
      if (server && server !== this.serverName && (!acl || isServerAllowedByAcl(server, acl))) servers.add(server);
    }
    return [...servers];
  }

  /** Whether a room federates at all (not `m.federate: false`). */
  async federates(roomId: string): Promise<boolean> {
    const state = await this.engine.currentState(roomId);
    return roomFederates(state);
  }

  /**
   * The servers an event goes to. `servers` (the room's servers now) may be passed in by a caller
   * that looks at many events of the same room.
   */
  async destinationsOf(event: StoredEvent, servers?: readonly string[]): Promise<Set<string>> {
    if (!(await this.federates(event.room_id))) return new Set();
    const out = new Set(servers ?? (await this.serversInRoom(event.room_id)));
    // Invites reach the invitee's server through the invite API, before it is in the room.
    if (event.pdu.type === 'm.room.member' && event.pdu.content.membership !== 'invite') {
      const target = serverNameOf(event.pdu.state_key ?? '');
      if (target && target !== this.serverName) out.add(target);
    }
    return out;
  }
}
