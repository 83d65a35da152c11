// Path specifiers of Read/Edit/Write/Glob/Grep rules, gitignore-style, anchored like the SDK's:
// `./x` and `x/y` workspace-relative, `//x` absolute, `~/x` home, bare `name` at any depth.
import { posix } from 'node:path';
import { PolicyError } from '../../errors.js';
import { compileGlob } from './glob-match.js';

/** Where a rule applies; deny rules are read broadly, allow rules narrowly (fail closed). */
export type RuleStrictness = 'broad' | 'narrow';

export interface PathContext {
  /** Absolute workspace root inside the sandbox, e.g. `/workspace`. */
  workspaceRoot: string;
  /** Home directory of the agent inside the sandbox; `~` rules never match inside the workspace. */
  homeDir: string;
}

export interface PathSpecifier {
  readonly source: string;
  /** True when `path` (absolute, normalised) or one of its ancestors matches. */
  matches(path: string, ctx: PathContext, strictness: RuleStrictness): boolean;
}

/**
 * Parses a path specifier. Semantics (documented choice):
 * - `//abs/**` absolute; `~/x` below the home directory (never inside the workspace);
 * - `./x`, `x/y` relative to the workspace root;
 * - `/x` is workspace-relative as in the SDK (relative to the settings root); a *deny* or *ask*
 *   rule written `/x` additionally matches the absolute `/x`, so a user who meant absolute
 *   is not surprised in the unsafe direction;
 * - a bare `name` without `/` matches that name at any depth below the workspace (allow) or
 *   anywhere (deny/ask);
 * - a trailing `/` means "this directory"; a match on a directory covers everything below it.
 * Rejects specifiers that would grant everything (`**`, `//**`, `~/**` ...).
 */
export function parsePathSpecifier(spec: string): PathSpecifier {
  if (spec.length === 0) throw new PolicyError('empty path specifier');
  if (spec.includes('\0')) throw new PolicyError(`path specifier contains NUL: ${spec}`);
  let body = spec.endsWith('/') && spec.length > 1 ? spec.slice(0, -1) : spec;
  let kind: 'abs' | 'home' | 'workspace' | 'slash' | 'anywhere';
  if (body.startsWith('//')) {
    kind = 'abs';
    body = body.slice(1);
  } else if (body === '~' || body.startsWith('~/')) {
    kind = 'home';
    body = body.slice(1);
  } else if (body.startsWith('./')) {
    kind = 'workspace';
    body = body.slice(1);
  } else if (body.startsWith('/')) {
    kind = 'slash';
  } else if (body.includes('/')) {
    kind = 'workspace';
    body = '/' + body;
  } else {
    kind = 'anywhere';
    body = '/' + body;
  }
  body = collapse(body);
  if (body.split('/').includes('..')) {
    throw new PolicyError(`path specifier must not contain "..": ${spec}`);
  }
  const onlyWildcards = body.split('/').every((s) => s === '' || /^\*+$/.test(s));
  if (onlyWildcards && kind !== 'workspace' && kind !== 'home') {
    throw new PolicyError(`"${spec}" would match every path; name paths explicitly`);
  }
  const cache = new Map<string, RegExp>();
  const regexFor = (pattern: string): RegExp => {
    let re = cache.get(pattern);
    if (!re) {
      re = compileGlob(pattern);
      cache.set(pattern, re);
    }
    return re;
  };
  const patterns = (ctx: PathContext, strictness: RuleStrictness): string[] => {
    const ws = collapse(ctx.workspaceRoot);
    switch (kind) {
      case 'abs':
        return [body];
      case 'home':
        return [join(collapse(ctx.homeDir), body)];
      case 'workspace':
        return [join(ws, body)];
      case 'slash':
        return strictness === 'broad' ? [join(ws, body), body] : [join(ws, body)];
      case 'anywhere':
        return strictness === 'broad' ? ['/**' + body] : [join(ws, '/**' + body)];
    }
  };
  return {
    source: spec,
    matches(path, ctx, strictness) {
      const target = collapse(path);
      const ws = collapse(ctx.workspaceRoot);
      for (const pattern of patterns(ctx, strictness)) {
        if (kind === 'home' && isInside(target, ws)) continue;
        const re = regexFor(pattern);
        for (let p = target; ; p = posix.dirname(p)) {
          if (re.test(p)) return true;
          if (p === '/') break;
        }
      }
      return false;
    },
  };
}

/** Resolves a tool's path input against `cwd`, removing `.`, `..` and duplicate slashes. */
export function resolveToolPath(input: string, cwd: string, homeDir: string): string {
  if (input === '~' || input.startsWith('~/')) return posix.resolve(homeDir, '.' + input.slice(1));
  return posix.resolve(cwd, input);
}

/** True when `path` is `root` or below it (both normalised, no trailing slash). */
export function isInside(path: string, root: string): boolean {
  return path === root || path.startsWith(root === '/' ? '/' : root + '/');
}

function collapse(p: string): string {
  const c = p.replace(/\/{2,}/g, '/');
  return c.length > 1 && c.endsWith('/') ? c.slice(0, -1) : c;
}

function join(root: string, rest: string): string {
  if (rest === '/' || rest === '') return root;
  return root === '/' ? rest : root + rest;
}
