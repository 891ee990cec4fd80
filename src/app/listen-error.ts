/**
 * A listener that cannot bind is a configuration problem the operator must fix: say which port,
 * which setting moves it, and what to check, instead of a bare `EADDRINUSE` stack.
 */

export interface ListenerDescription {
  /** What listens there, for the operator: "the Client-Server API". */
  what: string;
  host: string;
  port: number;
  /** The hearth.yaml setting and the environment variable that choose the port. */
  setting: string;
  env: string;
}

export class ListenError extends Error {
  constructor(
    message: string,
    readonly code: string | undefined,
  ) {
    super(message);
    this.name = 'ListenError';
  }
}

/** Turns a bind failure into a message naming the port and what to do; other errors pass through. */
export function describeListenError(err: unknown, listener: ListenerDescription): unknown {
  const code = (err as { code?: string } | null)?.code;
  const where = `${listener.host}:${listener.port}`;
  const move = `set ${listener.setting} in hearth.yaml (or ${listener.env})`;
  switch (code) {
    case 'EADDRINUSE':
      return new ListenError(
        `port ${listener.port} (${listener.what}, ${where}) is already in use: another program (another Hearth, Synapse, Mosquitto?) listens there. Stop it, or ${move} to another port.`,
        code,
      );
    case 'EACCES':
      return new ListenError(
        `not allowed to listen on port ${listener.port} (${listener.what}, ${where}): ports below 1024 need privileges. ${move[0]!.toUpperCase()}${move.slice(1)} to a port above 1023.`,
        code,
      );
    case 'EADDRNOTAVAIL':
      return new ListenError(
        `cannot listen on ${where} (${listener.what}): ${listener.host} is not an address of this machine. Fix the bind address in hearth.yaml.`,
        code,
      );
    default:
      return err;
  }
}
