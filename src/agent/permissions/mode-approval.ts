// What a permission mode approves by itself: acceptEdits approves file edits and
// mkdir/touch/mv/cp inside the workspace; file reads inside the workspace need no approval.
import { posix } from 'node:path';
import type { PermissionMode } from '../../policy/policy-schema.js';
import type { CallSubject } from './call-subject.js';
import { isInside, type PathContext } from './path-rule.js';

const FS_COMMANDS = new Set(['mkdir', 'touch', 'mv', 'cp']);
/** Flags of those commands that take no argument (anything else is not auto-approved). */
const SAFE_FLAGS = /^-[prRfvaniuT]+$/;
/** Directories and files that make code run later: never auto-approved, even inside the workspace. */
const SENSITIVE_DIRS = new Set(['.git', '.claude', '.vscode', '.idea', '.husky', '.devcontainer']);
const SENSITIVE_FILES = new Set([
  '.bashrc',
  '.bash_profile',
  '.bash_login',
  '.profile',
  '.zshrc',
  '.zprofile',
  '.zshenv',
  '.envrc',
  '.npmrc',
  '.yarnrc',
  '.yarnrc.yml',
  '.gitconfig',
  '.gitmodules',
  '.gitattributes',
  '.mcp.json',
]);

/** True when `path` is inside the workspace and not a file that makes code run later. */
export function isPlainWorkspacePath(path: string, ctx: PathContext): boolean {
  const ws = posix.normalize(ctx.workspaceRoot);
  if (!isInside(path, ws)) return false;
  const rel = path.slice(ws.length).split('/').filter(Boolean);
  if (rel.some((s) => SENSITIVE_DIRS.has(s))) return false;
  return !SENSITIVE_FILES.has(rel[rel.length - 1] ?? '');
}

/**
 * Returns the reason the mode approves the call, or undefined when it does not.
 * `readsAutoApproved`: Read/Glob/Grep inside the workspace pass in default, acceptEdits and plan
 * (the SDK's read-only tools need no approval); dontAsk only runs what rules pre-approve.
 */
export function modeApproves(
  mode: PermissionMode,
  s: CallSubject,
  ctx: PathContext,
  readsAutoApproved: boolean,
): string | undefined {
  const kind = s.tool.kind;
  const ws = posix.normalize(ctx.workspaceRoot);
  if (
    readsAutoApproved &&
    mode !== 'dontAsk' &&
    (kind === 'read' || kind === 'glob' || kind === 'grep') &&
    s.paths.length > 0 &&
    s.paths.every((p) => isInside(p, ws))
  ) {
    return 'read inside the workspace';
  }
  if (mode !== 'acceptEdits') return undefined;
  if (kind === 'edit' && s.paths.length > 0 && s.paths.every((p) => isPlainWorkspacePath(p, ctx))) {
    return 'acceptEdits: file edit inside the workspace';
  }
  if (kind === 'bash' && s.shell && bashIsWorkspaceFsOnly(s.shell, ctx)) {
    return 'acceptEdits: filesystem command inside the workspace';
  }
  return undefined;
}

function bashIsWorkspaceFsOnly(sh: NonNullable<CallSubject['shell']>, ctx: PathContext): boolean {
  if (sh.issues.length > 0 || sh.commands.length === 0) return false;
  if (!sh.writes.every((p) => isPlainWorkspacePath(p, ctx))) return false;
  return sh.commands.every((c) => {
    if (c.outer.length > 0 || c.unknownTail || c.cwds.length === 0) return false;
    if (!FS_COMMANDS.has(c.argv[0] ?? '')) return false;
    const args = c.argv.slice(1);
    let operands = 0;
    for (const a of args) {
      if (a === '--') continue;
      if (a.startsWith('-')) {
        if (!SAFE_FLAGS.test(a)) return false;
        continue;
      }
      if (a.includes('$') || a.startsWith('~')) return false;
      operands++;
      const resolved = c.cwds.map((cwd) => posix.resolve(cwd, a));
      if (!resolved.every((p) => isPlainWorkspacePath(p, ctx))) return false;
    }
    return operands > 0;
  });
}
