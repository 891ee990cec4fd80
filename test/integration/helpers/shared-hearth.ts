/**
 * One running Hearth for all tests of a file, and the matrix-js-sdk clients they start: the server
 * starts before the first test; after the last, the clients stop (their long-polls would otherwise
 * hit a closed port) and then the server.
 */
import type { TestFn } from 'ava';
import type * as sdk from 'matrix-js-sdk';
import { startHearth, type HearthServer, type StartHearthOptions } from './server.js';

export interface SharedHearth {
  /** The server (set once the file's `before` hook ran). */
  readonly server: HearthServer;
  /** Clients to stop before the server. */
  readonly clients: sdk.MatrixClient[];
}

export function shareHearth(test: TestFn, opts?: StartHearthOptions): SharedHearth {
  let server: HearthServer | undefined;
  const clients: sdk.MatrixClient[] = [];
  test.before(async () => {
    server = await startHearth(opts);
  });
  test.after.always(async () => {
    for (const client of clients) client.stopClient();
    await server?.stop();
  });
  return {
    get server() {
      if (!server) throw new Error('the shared Hearth has not started (use it inside tests)');
      return server;
    },
    clients,
  };
}
