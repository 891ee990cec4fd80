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

/** A signed request whose 2xx answer is read as it arrives, not held whole (a big room's `send_join`). */
export interface StreamedRequest {
  method: 'GET' | 'PUT' | 'POST';
  destination: string;
  /** From `/_matrix/...`, path segments already encoded. */
  path: string;
  query?: Record<string, string | string[]>;
  body?: unknown;
  /** Deadline of the whole transfer, reading included. */
  timeoutMs: number;
  /** The answer is cut (an error from the stream) past this many bytes. */
  maxResponseBytes: number;
}

/** The answer's bytes as they arrive; `destroy` lets the connection go when the reader gives up. */
export interface ByteStream extends AsyncIterable<Uint8Array> {
  destroy(error?: Error): void;
}

/** Streamed requests; a non-2xx answer, a failure, the size cut or the deadline throw `FederationRequestError`. */
export interface FederationStreams {
  stream(req: StreamedRequest): Promise<ByteStream>;
}

/** Encodes one path segment (room ids, event ids and user ids carry `!`, `$`, `@`, `:`). */
export function seg(value: string): string {
  return encodeURIComponent(value);
}

/** Log lines for outgoing requests: just enough to audit which servers and rooms were contacted. */
export interface RequestLog {
  info(fields: object, message: string): void;
}

/**
 * Every outgoing federation request logged at `info` (quiet by default: the default level is
 * `warn`) with its destination, path and the rooms a body names, so an operator, or a test, can
 * check what left the gateway (issue 11: "sensor rooms stay home").
 */
export function withRequestLog(requests: FederationRequests, log: RequestLog): FederationRequests {
  const note = (method: string, destination: string, path: string, body?: unknown) => {
    log.info({ destination, method, path, rooms: roomsNamedIn(body) }, 'federation request');
  };
  return {
    get: (destination, path, query) => {
      note('GET', destination, path);
      return requests.get(destination, path, query);
    },
    put: (destination, path, body, query) => {
      note('PUT', destination, path, body);
      return requests.put(destination, path, body, query);
    },
    post: (destination, path, body, query) => {
      note('POST', destination, path, body);
      return requests.post(destination, path, body, query);
    },
  };
}

/** Streamed requests logged like the others. */
export function withStreamLog(streams: FederationStreams, log: RequestLog): FederationStreams {
  return {
    stream: (req) => {
      log.info({ destination: req.destination, method: req.method, path: req.path, rooms: roomsNamedIn(req.body) }, 'federation request');
      return streams.stream(req);
    },
  };
}

/** Room ids a request body names: PDUs' and EDUs' `room_id`, and the body's own. */
function roomsNamedIn(body: unknown): string[] {
  const rooms = new Set<string>();
  const visit = (value: unknown, depth: number) => {
    if (depth > 4 || value === null || typeof value !== 'object') return;
    if (Array.isArray(value)) {
      for (const item of value.slice(0, 200)) visit(item, depth + 1);
      return;
    }
    const record = value as Record<string, unknown>;
    if (typeof record.room_id === 'string') rooms.add(record.room_id);
    // m.receipt EDUs key their content by room id.
    if (record.edu_type === 'm.receipt' && record.content && typeof record.content === 'object') {
      for (const roomId of Object.keys(record.content)) rooms.add(roomId);
    }
    for (const key of ['pdus', 'edus', 'event', 'content']) if (key in record) visit(record[key], depth + 1);
  };
  visit(body, 0);
  return [...rooms];
}
