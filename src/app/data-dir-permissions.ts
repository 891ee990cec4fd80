/**
 * The data directory holds password hashes, access-token hashes, messages, the signing key and the
 * registration shared secret: only the gateway's own user may read it. New files are made private
 * by the process umask (`PRIVATE_UMASK`, set before anything is created); directories made by
 * older versions (0755 with 0644 files) are tightened at start by `securePermissions`.
 */
import { chmodSync, lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/** Files 0600, directories 0700: nothing for the group or others. */
export const PRIVATE_UMASK = 0o077;
const PRIVATE_DIR_MODE = 0o700;
const PRIVATE_FILE_MODE = 0o600;

export interface PermissionFix {
  path: string;
  from: number;
  to: number;
}

/**
 * Walks the data directory (not following symbolic links: a link may point anywhere, and its
 * target is not ours to change) and removes group and other permissions from every directory and
 * regular file, sockets included. Returns what it changed, so the caller can say so once.
 */
export function securePermissions(dataDir: string): PermissionFix[] {
  const fixes: PermissionFix[] = [];
  const visit = (path: string) => {
    const st = lstatSync(path);
    if (st.isSymbolicLink()) return;
    const mode = st.mode & 0o777;
    const wanted = st.isDirectory() ? PRIVATE_DIR_MODE : mode & PRIVATE_FILE_MODE;
    if (mode !== wanted && (st.isDirectory() || st.isFile() || st.isSocket())) {
      chmodSync(path, wanted);
      fixes.push({ path, from: mode, to: wanted });
    }
    if (st.isDirectory()) for (const name of readdirSync(path)) visit(join(path, name));
  };
  visit(dataDir);
  return fixes;
}
