/**
 * What the federation logic needs of the outgoing transport: signed (X-Matrix) JSON requests to
 * another server, answered with parsed JSON or a thrown error carrying the status and errcode.
 * The HTTP client in `transport/` implements it; the logic never sees sockets.
 */
export interface FederationRequests {
  get(destination: string, path: string, query?: Record<string, string | string[]>): Promise<unknown>;
  put(destination: string, path: string, body: unknown, query?: Record<string, string | string[]>): Promise<unknown>;
  post(destination: string, path: string, body: unknown, query?: Record<string, string | string[]>): Promise<unknown>;
}

/** Encodes one path segment (room ids, event ids and user ids carry `!`, `$`, `@`, `:`). */
export function seg(value: string): string {
  return encodeURIComponent(value);
}
