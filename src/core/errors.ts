/**
 * The one error vocabulary of Hearth (transport-free: the client API maps it to HTTP, federation to rejections): Matrix error codes (client-server-api "Standard error
 * response"); the codes Hearth returns, each listed with its statuses in docs/errors.md. Handlers
 * throw `MatrixError`; the server maps it to `{ errcode, error }`.
 */
export const ErrCode = {
  FORBIDDEN: 'M_FORBIDDEN',
  UNKNOWN_TOKEN: 'M_UNKNOWN_TOKEN',
  MISSING_TOKEN: 'M_MISSING_TOKEN',
  USER_DEACTIVATED: 'M_USER_DEACTIVATED',
  BAD_JSON: 'M_BAD_JSON',
  NOT_JSON: 'M_NOT_JSON',
  NOT_FOUND: 'M_NOT_FOUND',
  UNRECOGNIZED: 'M_UNRECOGNIZED',
  UNKNOWN: 'M_UNKNOWN',
  UNAUTHORIZED: 'M_UNAUTHORIZED',
  USER_IN_USE: 'M_USER_IN_USE',
  INVALID_USERNAME: 'M_INVALID_USERNAME',
  ROOM_IN_USE: 'M_ROOM_IN_USE',
  /** An m.room.canonical_alias alias that does not point to the room (client-server "PUT /rooms/{roomId}/state"). */
  BAD_ALIAS: 'M_BAD_ALIAS',
  UNSUPPORTED_ROOM_VERSION: 'M_UNSUPPORTED_ROOM_VERSION',
  GUEST_ACCESS_FORBIDDEN: 'M_GUEST_ACCESS_FORBIDDEN',
  MISSING_PARAM: 'M_MISSING_PARAM',
  INVALID_PARAM: 'M_INVALID_PARAM',
  TOO_LARGE: 'M_TOO_LARGE',
  LIMIT_EXCEEDED: 'M_LIMIT_EXCEEDED',
  INVALID_SIGNATURE: 'M_INVALID_SIGNATURE',
  WRONG_ROOM_KEYS_VERSION: 'M_WRONG_ROOM_KEYS_VERSION',
  /** Synapse's code for a second identical reaction (not in the spec; clients know it). */
  DUPLICATE_ANNOTATION: 'M_DUPLICATE_ANNOTATION',
} as const;
export type ErrCodeValue = (typeof ErrCode)[keyof typeof ErrCode];

export class MatrixError extends Error {
  constructor(
    readonly status: number,
    readonly errcode: ErrCodeValue,
    message: string,
    /** Extra top-level fields of the error body (e.g. `retry_after_ms`, UIA `flows`). */
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'MatrixError';
  }

  toJSON(): Record<string, unknown> {
    return { errcode: this.errcode, error: this.message, ...this.extra };
  }
}

export const forbidden = (msg: string) => new MatrixError(403, ErrCode.FORBIDDEN, msg);
export const notFound = (msg: string) => new MatrixError(404, ErrCode.NOT_FOUND, msg);
export const badJson = (msg: string) => new MatrixError(400, ErrCode.BAD_JSON, msg);
export const invalidParam = (msg: string) => new MatrixError(400, ErrCode.INVALID_PARAM, msg);
export const missingParam = (msg: string) => new MatrixError(400, ErrCode.MISSING_PARAM, msg);
