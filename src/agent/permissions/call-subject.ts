// What a tool call touches, extracted once per decision: the analysed shell line for Bash,
// normalised absolute paths for file tools, the host for WebFetch.
import { posix } from 'node:path';
import { normaliseHost } from '../../policy/host.js';
import { analyzeShell, type ShellAnalysis } from './shell-analyze.js';
import { hasGlobChars } from './glob-match.js';
import { resolveToolPath, type PathContext } from './path-rule.js';
import type { ToolDescriptor } from './tool-catalog.js';
import type { ToolInput } from './types.js';

export interface CallSubject {
  readonly tool: ToolDescriptor;
  readonly input: ToolInput;
  /** Bash only. */
  readonly shell?: ShellAnalysis;
  /** File tools: absolute normalised paths the call reads or writes (Glob/Grep: search roots). */
  readonly paths: readonly string[];
  /** WebFetch: normalised host and port; undefined when the URL does not parse. */
  readonly url?: { host: string; port: number; defaultPort: number };
}

export interface SubjectContext extends PathContext {
  cwd: string;
}

/** Builds the subject of a call; malformed inputs yield empty paths (which match no allow rule). */
export function buildSubject(
  tool: ToolDescriptor,
  input: ToolInput,
  ctx: SubjectContext,
): CallSubject {
  const str = (k: string): string | undefined => {
    const v = input[k];
    return typeof v === 'string' && v.length > 0 && !v.includes('\0') ? v : undefined;
  };
  const resolve = (p: string): string => resolveToolPath(p, ctx.cwd, ctx.homeDir);
  switch (tool.kind) {
    case 'bash': {
      const command = str('command');
      const shell =
        command === undefined
          ? { commands: [], writes: [], reads: [], issues: ['missing command'] }
          : analyzeShell(command, { cwd: ctx.cwd, homeDir: ctx.homeDir });
      return { tool, input, shell, paths: [] };
    }
    case 'read':
    case 'edit': {
      const p = str('file_path') ?? str('notebook_path') ?? str('path');
      return { tool, input, paths: p === undefined ? [] : [resolve(p)] };
    }
    case 'glob': {
      const base = resolve(str('path') ?? ctx.cwd);
      const pattern = str('pattern');
      return { tool, input, paths: [pattern === undefined ? base : globRoot(base, pattern)] };
    }
    case 'grep':
      return { tool, input, paths: [resolve(str('path') ?? ctx.cwd)] };
    case 'webfetch':
      return { tool, input, paths: [], ...parseUrl(str('url')) };
    case 'mcp':
    case 'other':
      return { tool, input, paths: [] };
  }
}

/** The directory a glob pattern starts searching from (its literal leading segments). */
function globRoot(base: string, pattern: string): string {
  const segments = pattern.split('/');
  const literal: string[] = [];
  for (const s of segments.slice(0, -1)) {
    if (hasGlobChars(s)) break;
    literal.push(s);
  }
  if (pattern.startsWith('/')) return posix.resolve('/', literal.join('/'));
  return posix.resolve(base, literal.join('/'));
}

function parseUrl(
  raw: string | undefined,
): { url: NonNullable<CallSubject['url']> } | Record<string, never> {
  if (raw === undefined) return {};
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return {};
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return {};
  const host = normaliseHost(u.hostname);
  if (!host) return {};
  const defaultPort = u.protocol === 'https:' ? 443 : 80;
  return { url: { host, port: u.port === '' ? defaultPort : Number(u.port), defaultPort } };
}
