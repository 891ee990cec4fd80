/**
 * What the bridge needs from the rest of the gateway, as interfaces so tests can pass fakes.
 * The room engine (src/rooms/engine.ts) implements `BridgeRoomPort`; every write of a room event
 * goes through it (auth, persistence, fan-out), the bridge never touches event storage.
 */

export interface CreateRoomRequest {
  creator: string;
  name?: string;
  topic?: string;
  invite?: string[];
  preset?: 'private_chat' | 'public_chat';
  initialState?: { type: string; state_key?: string; content: object }[];
  creationContent?: object;
  powerLevelContentOverride?: object;
}

export interface EventDraft {
  type: string;
  sender: string;
  content: object;
  state_key?: string;
}

export interface PersistedEvent {
  event_id: string;
  room_id: string;
  pdu: { type: string; sender: string; content: object; state_key?: string };
}

export interface BridgeRoomPort {
  createRoom(req: CreateRoomRequest): Promise<{ roomId: string }>;
  sendEvent(roomId: string, draft: EventDraft, opts?: { txn?: { deviceId: string; txnId: string } }): Promise<{ eventId: string }>;
  getStateEvent(roomId: string, type: string, stateKey: string): Promise<{ event_id: string; pdu: { sender: string; content: object } } | undefined>;
  /** Called after each event is persisted; returns an unsubscribe function. */
  onEvent(listener: (ev: PersistedEvent) => void): () => void;
  getUserPowerLevel(roomId: string, userId: string): Promise<number>;
  isJoined(userId: string, roomId: string): Promise<boolean>;
}

/** The gateway's identity side: a Matrix user per device, and who owns the devices. */
export interface BridgeIdentityPort {
  /** Creates (once) and returns the device's Matrix user id, e.g. `@kitchen-sensor:server`. */
  ensureDeviceUser(deviceKey: string): Promise<string>;
  /** `config.bridge.owners`, or every admin of the gateway when that list is empty. */
  owners(): Promise<string[]>;
}

export interface BridgeLogger {
  debug(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}
