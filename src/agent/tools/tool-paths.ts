// Resolves file-tool paths inside /workspace (lexically; links are refused by the sandbox's own
// file ops) and names the persistence paths Write/Edit must never touch, at any depth.
import { posix } from 'node:path';
import { PathEscapeError } from '../../errors.js';
import { resolveSandboxPath, SANDBOX_WORKSPACE } from '../../sandbox/workspace-path.js';

/** Directory names whose contents configure tools that run code (git, editors, agents). */
const PROTECTED_DIRS = new Set(['.git', '.claude', '.vscode', '.idea', '.husky', '.devcontainer']);

/** File names that run code when a shell, git, direnv, npm or an agent starts. */
const PROTECTED_FILES = new Set([
  '.bashrc',
  '.bash_profile',
  '.bash_login',
  '.bash_logout',
  '.profile',
  '.zshrc',
  '.zshenv',
  '.zprofile',
  '.zlogin',
  '.kshrc',
  '.cshrc',
  '.tcshrc',
  '.inputrc',
  '.envrc',
  '.gitconfig',
  '.gitmodules',
  '.gitattributes',
  '.mcp.json',
  '.npmrc',
  '.yarnrc',
  '.yarnrc.yml',
  '.pth',
]);

/**
 * Absolute sandbox path for a tool's `file_path`/`path`: relative paths are under /workspace;
 * anything lexically outside it (`..`, `/proc/self/root`, `/workspace2`, NUL) is a PathEscapeError.
 */
export function resolveToolPath(path: string): string {
  if (typeof path !== 'string' || path.length === 0)
    throw new PathEscapeError(String(path), 'empty');
  if (path.startsWith('~')) throw new PathEscapeError(path, 'home directory is outside /workspace');
  return resolveSandboxPath(path);
}

/** Why writing `absPath` is refused (persistence vectors), or undefined when it is allowed. */
export function protectedPathReason(absPath: string): string | undefined {
  const rel = posix.relative(SANDBOX_WORKSPACE, absPath);
  const parts = rel.split('/').map((p) => p.toLowerCase());
  for (const [i, part] of parts.entries()) {
    const last = i === parts.length - 1;
    if (!last && PROTECTED_DIRS.has(part))
      return `${part}/ is protected (it configures code that runs)`;
    if (last && (PROTECTED_DIRS.has(part) || PROTECTED_FILES.has(part))) {
      return `${part} is protected (it configures code that runs)`;
    }
  }
  return undefined;
}

/** Path relative to /workspace for display ("." for the root). */
export function displayPath(absPath: string): string {
  const rel = posix.relative(SANDBOX_WORKSPACE, absPath);
  return rel === '' ? '.' : rel;
}
