/**
 * What `query/directory` tells another server about a local alias: the room and the servers with
 * joined members (ours first: we created the alias, and we are there), the servers a joining
 * server may ask to `make_join`. A sensor room (`m.federate: false`) is not disclosed at all.
 */
import { serverNameOf } from '../../core/identifiers.js';
import type { StoredStateMap } from '../../rooms/engine.js';

export interface AliasServersDeps {
  serverName: string;
  aliasTarget(alias: string): Promise<{ roomId: string } | undefined>;
  currentState(roomId: string): Promise<StoredStateMap>;
}

export async function resolveAliasForServers(deps: AliasServersDeps, alias: string): Promise<{ roomId: string; servers: string[] } | undefined> {
  const target = await deps.aliasTarget(alias);
  if (!target) return undefined;
  let state: StoredStateMap;
  try {
    state = await deps.currentState(target.roomId);
  } catch {
    return undefined; // an alias left pointing at a room we no longer have
  }
  let federates = true;
  const servers = new Set<string>();
  for (const event of state.values()) {
    if (event.pdu.type === 'm.room.create' && event.pdu.content['m.federate'] === false) federates = false;
    if (event.pdu.type === 'm.room.member' && event.pdu.content.membership === 'join' && typeof event.pdu.state_key === 'string') {
      const server = serverNameOf(event.pdu.state_key);
      if (server) servers.add(server);
    }
  }
  if (!federates) return undefined;
  servers.delete(deps.serverName);
  return { roomId: target.roomId, servers: [deps.serverName, ...[...servers].sort()] };
}
