/**
 * What `hearth run` tells a new user when the gateway has no accounts yet. Registration is closed by
 * default, so a fresh gateway has nobody who can log in until `hearth user add` makes someone: say
 * so, with the command to type for the way this gateway was started.
 */
import { resolve } from 'node:path';
import type { RegistrationMode } from '../config/config.js';

export interface FirstAccountHintOptions {
  registration: RegistrationMode;
  dataDir: string;
  /** `hearth` for the single executable, `npx hearth` from a checkout (`make run`, `npx hearth run`). */
  command: string;
  /** Where Matrix clients connect (the client API's public URL). */
  clientUrl: string;
  /** The working directory the user types the command in (a relative default data dir is resolved against it). */
  cwd?: string;
}

export function firstAccountHint(opts: FirstAccountHintOptions): string {
  const defaultDataDir = resolve(opts.cwd ?? process.cwd(), 'data');
  // The command must reach the same data directory as this gateway.
  const env = opts.dataDir === defaultDataDir ? '' : `HEARTH_DATA_DIR=${opts.dataDir} `;
  const addAdmin = `${env}${opts.command} user add NAME --admin`;
  switch (opts.registration) {
    case 'closed':
      return `hearth: no accounts yet, and registration is closed. Next: ${addAdmin} (prints the password), then log in with a Matrix client at ${opts.clientUrl}`;
    case 'token':
      return `hearth: no accounts yet; registration needs a token (registration.tokens in hearth.yaml). For the first admin: ${addAdmin}, then log in with a Matrix client at ${opts.clientUrl}`;
    case 'open':
      return `hearth: no accounts yet; registration is open: register with a Matrix client at ${opts.clientUrl}, or make an admin with ${addAdmin}`;
  }
}
