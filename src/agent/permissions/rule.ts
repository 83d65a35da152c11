// Permission rule parsing: `Tool`, `Tool(specifier)`, `mcp__server[__tool|__*]`, with the SDK's
// specifier forms (Bash prefixes, gitignore paths, WebFetch domains). Wildcard grants are refused.
import { PolicyError } from '../../errors.js';
import { parseHostPattern, type HostPattern } from '../../policy/host.js';
import { parsePathSpecifier, type PathSpecifier } from './path-rule.js';

/** Tools whose specifier is a path; Read rules also cover Glob/Grep, Edit/Write cover each other. */
export const PATH_RULE_TOOLS = ['Read', 'Edit', 'Write', 'Glob', 'Grep', 'NotebookEdit'] as const;

export interface BashPattern {
  readonly kind: 'exact' | 'prefix' | 'glob';
  /** Exact: the command; prefix: the words before `:*`; glob: a compiled pattern. */
  readonly text: string;
  readonly regex?: RegExp;
}

export type ParsedRule =
  | { readonly source: string; readonly kind: 'tool'; readonly tool: string }
  | { readonly source: string; readonly kind: 'bash'; readonly pattern: BashPattern }
  | {
      readonly source: string;
      readonly kind: 'path';
      readonly tool: string;
      readonly path: PathSpecifier;
    }
  | { readonly source: string; readonly kind: 'domain'; readonly host: HostPattern }
  | {
      readonly source: string;
      readonly kind: 'mcp';
      readonly server: string;
      readonly tool?: string;
    }
  | {
      readonly source: string;
      readonly kind: 'specifier';
      readonly tool: string;
      readonly spec: string;
    };

const TOOL_NAME = /^[A-Za-z][A-Za-z0-9_-]*$/;

/**
 * Parses one rule string; throws PolicyError for malformed or wildcard-granting rules.
 * @example parseRule('Bash(npm run test:*)') // { kind: 'bash', pattern: { kind: 'prefix', text: 'npm run test' } }
 */
export function parseRule(source: string): ParsedRule {
  const rule = source.trim();
  if (rule === '' || rule.startsWith('*')) {
    throw new PolicyError(`rule "${source}": wildcard grants like "*" are not allowed`);
  }
  const open = rule.indexOf('(');
  if (open < 0) return parseBare(source, rule);
  if (!rule.endsWith(')')) throw new PolicyError(`rule "${source}": missing closing ")"`);
  const tool = rule.slice(0, open);
  const spec = rule.slice(open + 1, -1).trim();
  if (!TOOL_NAME.test(tool)) throw new PolicyError(`rule "${source}": invalid tool name`);
  if (tool.startsWith('mcp__')) {
    throw new PolicyError(`rule "${source}": MCP rules take no specifier`);
  }
  if (spec === '') return { source, kind: 'tool', tool };
  if (/^\*/.test(spec)) {
    throw new PolicyError(`rule "${source}": a leading wildcard would grant everything`);
  }
  if (tool === 'Bash') return { source, kind: 'bash', pattern: parseBashPattern(source, spec) };
  if ((PATH_RULE_TOOLS as readonly string[]).includes(tool)) {
    return { source, kind: 'path', tool, path: parsePathSpecifier(spec) };
  }
  if (tool === 'WebFetch') {
    if (!spec.startsWith('domain:')) {
      throw new PolicyError(`rule "${source}": WebFetch rules take "domain:host"`);
    }
    const host = parseHostPattern(spec.slice('domain:'.length));
    if (typeof host === 'string') throw new PolicyError(`rule "${source}": ${host}`);
    return { source, kind: 'domain', host };
  }
  return { source, kind: 'specifier', tool, spec };
}

function parseBare(source: string, rule: string): ParsedRule {
  if (!TOOL_NAME.test(rule) && !/^mcp__[A-Za-z0-9_-]+__\*$/.test(rule)) {
    throw new PolicyError(`rule "${source}": invalid tool name`);
  }
  if (!rule.startsWith('mcp__')) return { source, kind: 'tool', tool: rule };
  const rest = rule.slice('mcp__'.length);
  const sep = rest.indexOf('__');
  const server = sep < 0 ? rest : rest.slice(0, sep);
  const tool = sep < 0 ? undefined : rest.slice(sep + 2);
  if (server === '' || server.includes('*')) {
    throw new PolicyError(`rule "${source}": name the MCP server explicitly`);
  }
  if (tool === undefined || tool === '*') return { source, kind: 'mcp', server };
  if (tool === '' || tool.includes('*')) {
    throw new PolicyError(`rule "${source}": only a whole "mcp__server__*" wildcard is supported`);
  }
  return { source, kind: 'mcp', server, tool };
}

/**
 * Bash specifiers: `cmd args:*` prefix on a word boundary (`cmd args *` is the same), a `*`
 * elsewhere matches any characters, anything else is an exact command.
 */
function parseBashPattern(source: string, spec: string): BashPattern {
  const words = spec.replace(/\s+/g, ' ');
  let prefix: string | undefined;
  if (words.endsWith(':*')) prefix = words.slice(0, -2).trimEnd();
  else if (words.endsWith(' *')) prefix = words.slice(0, -2).trimEnd();
  if (prefix !== undefined) {
    if (prefix === '' || prefix.includes('*')) {
      if (prefix === '') throw new PolicyError(`rule "${source}": empty command prefix`);
      return { kind: 'glob', text: words, regex: bashGlob(words.slice(0, -2) + ' *') };
    }
    return { kind: 'prefix', text: prefix };
  }
  if (words.includes('*')) return { kind: 'glob', text: words, regex: bashGlob(words) };
  return { kind: 'exact', text: words };
}

function bashGlob(text: string): RegExp {
  let out = '';
  const trailing = text.endsWith(' *');
  const body = trailing ? text.slice(0, -2) : text;
  for (const c of body) out += c === '*' ? '.*' : c.replace(/[.+?^${}()|[\]\\/]/g, '\\$&');
  return new RegExp(`^${out}${trailing ? '(?: .*)?' : ''}$`, 's');
}

/**
 * True when a Bash pattern matches a canonical command line (words joined by one space).
 * `hasUnknownTail`: more arguments follow that are only known at run time (`xargs cmd`); an
 * allow rule then needs a prefix that covers them, a deny/ask rule (`broad`) matches when the
 * known part could still become the denied command.
 */
export function bashPatternMatches(
  pattern: BashPattern,
  command: string,
  hasUnknownTail: boolean,
  broad: boolean,
): boolean {
  const couldExtend = (full: string): boolean =>
    hasUnknownTail && broad && (full === command || full.startsWith(command + ' '));
  switch (pattern.kind) {
    case 'exact':
      return (!hasUnknownTail && command === pattern.text) || couldExtend(pattern.text);
    case 'prefix':
      return (
        command === pattern.text ||
        command.startsWith(pattern.text + ' ') ||
        couldExtend(pattern.text)
      );
    case 'glob':
      if (pattern.regex?.test(command) === true) {
        return !hasUnknownTail || broad || pattern.text.endsWith('*');
      }
      if (!hasUnknownTail || !broad) return false;
      {
        const head = pattern.text.slice(0, pattern.text.indexOf('*')).trimEnd();
        return command.startsWith(head) || couldExtend(head);
      }
  }
}
