/**
 * The page's calls: the Client-Server API (login, logout, join, send) and the status data API
 * (docs/status-page.md), with the admin's access token from the session (`sessionStorage`: it ends
 * with the tab, and no other page of this origin reads it).
 */
import type { DeviceView, GatewayView, SensorView } from '../status-service.js';

export interface Session {
  accessToken: string;
  userId: string;
}

export const STATUS_API = '/_hearth/status/v1';
const SESSION_KEY = 'hearth.status.session';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly errcode: string,
    message: string,
  ) {
    super(message);
  }
}

export function loadSession(): Session | undefined {
  try {
    const raw = sessionStorage.getItem(SESSION_KEY);
    const s = raw ? (JSON.parse(raw) as Partial<Session>) : undefined;
    return s && typeof s.accessToken === 'string' && typeof s.userId === 'string' ? { accessToken: s.accessToken, userId: s.userId } : undefined;
  } catch {
    return undefined;
  }
}

export function saveSession(session: Session | undefined): void {
  if (session) sessionStorage.setItem(SESSION_KEY, JSON.stringify(session));
  else sessionStorage.removeItem(SESSION_KEY);
}

export async function call<T>(method: string, path: string, opts: { token?: string; body?: unknown; signal?: AbortSignal } = {}): Promise<T> {
  const headers: Record<string, string> = {};
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(path, {
    method,
    headers,
    ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}),
    ...(opts.signal ? { signal: opts.signal } : {}),
    cache: 'no-store',
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : {};
  } catch {
    json = undefined;
  }
  if (!res.ok) {
    const err = (json ?? {}) as { errcode?: string; error?: string };
    throw new ApiError(res.status, err.errcode ?? 'M_UNKNOWN', err.error ?? `HTTP ${res.status}`);
  }
  return json as T;
}

/** Client-Server `POST /login` with a password (client-server-api "Login"). */
export async function login(user: string, password: string): Promise<Session> {
  const res = await call<{ access_token: string; user_id: string }>('POST', '/_matrix/client/v3/login', {
    body: { type: 'm.login.password', identifier: { type: 'm.id.user', user }, password, initial_device_display_name: 'Hearth status page' },
  });
  return { accessToken: res.access_token, userId: res.user_id };
}

export async function logout(session: Session): Promise<void> {
  await call('POST', '/_matrix/client/v3/logout', { token: session.accessToken, body: {} }).catch(() => undefined);
}

// ---- the status data API: its shapes are the server's (type-only: esbuild drops the import, the
// page bundles none of the server's code)

export type { DeviceView, GatewayView, SensorView };

export interface DevicesAnswer {
  next: string;
  full: boolean;
  devices: DeviceView[];
}

export type HistoryAnswer =
  | { resolution: 'raw'; truncated: boolean; ts: number[]; value: (number | null)[] }
  | { resolution: '5m' | '1h'; truncated: boolean; ts: number[]; min: number[]; mean: number[]; max: number[]; count: number[] };

/** `org.hearth.command` in the device's room (docs/events.md): the path any Matrix client takes. */
export async function sendCommand(session: Session, device: DeviceView, sensor: SensorView, value: unknown): Promise<string> {
  if (!device.room_id) throw new ApiError(400, 'M_UNKNOWN', 'The device has no room yet');
  const room = encodeURIComponent(device.room_id);
  // Device rooms invite the admins (their owners); the command is sent as a member, like from any client.
  if (!device.joined) {
    await call('POST', `/_matrix/client/v3/join/${room}`, { token: session.accessToken, body: {} });
    device.joined = true;
  }
  const txn = `status-${Date.now()}-${Math.random().toString(36).slice(2, 10)}`;
  const res = await call<{ event_id: string }>('PUT', `/_matrix/client/v3/rooms/${room}/send/org.hearth.command/${txn}`, {
    token: session.accessToken,
    body: { sensor: sensor.command_target, value },
  });
  return res.event_id;
}
