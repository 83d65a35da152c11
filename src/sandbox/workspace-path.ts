// Maps paths given to file operations and exec cwd onto the sandbox's /workspace, refusing
// anything that leaves it lexically (prefix siblings, `..`, absolute paths elsewhere).
import { posix } from 'node:path';
import { PathEscapeError } from '../errors.js';

export const SANDBOX_WORKSPACE = '/workspace';

/**
 * Resolves `path` (relative to /workspace, or absolute under it) to a normalised absolute sandbox
 * path. Symlinks are handled where the file is opened (inside the sandbox, with O_NOFOLLOW).
 * @example resolveSandboxPath('src/../a.txt') === '/workspace/a.txt'
 */
export function resolveSandboxPath(path: string): string {
  // eslint-disable-next-line no-control-regex
  if (path.length === 0 || /\x00/.test(path)) throw new PathEscapeError(path, 'empty or NUL byte');
  const absolute = posix.normalize(
    path.startsWith('/') ? path : posix.join(SANDBOX_WORKSPACE, path),
  );
  const trimmed = absolute.length > 1 && absolute.endsWith('/') ? absolute.slice(0, -1) : absolute;
  if (trimmed !== SANDBOX_WORKSPACE && !trimmed.startsWith(`${SANDBOX_WORKSPACE}/`)) {
    throw new PathEscapeError(path, 'outside /workspace');
  }
  return trimmed;
}
