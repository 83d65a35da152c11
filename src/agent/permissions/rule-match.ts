// Matching one parsed rule against a call subject. `broad` (deny/ask rules) matches when any part
// of the call could match; narrow (allow and role rules) only when the rule covers all of it.
import { hostMatches } from '../../policy/host.js';
import { bashPatternMatches, type ParsedRule } from './rule.js';
import type { CallSubject } from './call-subject.js';
import type { PathContext } from './path-rule.js';

/** A child name only a wildcard can match. */
const PROBE = '\u2063ringfence-probe';
const READ_FAMILY = new Set(['Read', 'Glob', 'Grep']);
const EDIT_FAMILY = new Set(['Edit', 'Write', 'NotebookEdit']);

/** Tools a path rule written for `ruleTool` applies to (Read covers Glob/Grep, Edit covers Write). */
function pathRuleApplies(ruleTool: string, tool: string): boolean {
  if (ruleTool === 'Read') return READ_FAMILY.has(tool);
  if (EDIT_FAMILY.has(ruleTool)) return EDIT_FAMILY.has(tool);
  return ruleTool === tool;
}

/** Whether `rule` matches the call; see the module comment for `broad`. */
export function ruleMatches(
  rule: ParsedRule,
  s: CallSubject,
  pathCtx: PathContext,
  broad: boolean,
): boolean {
  const name = s.tool.name;
  switch (rule.kind) {
    case 'tool':
      if (rule.tool === name) return true;
      // A bare deny/ask `Read` also covers Grep/Glob, `Edit` also Write: same data, other tool.
      return broad && rule.tool !== 'Bash' && pathRuleApplies(rule.tool, name);
    case 'mcp':
      if (!name.startsWith(`mcp__${rule.server}__`)) return false;
      return rule.tool === undefined || name === `mcp__${rule.server}__${rule.tool}`;
    case 'bash': {
      const sh = s.shell;
      if (name !== 'Bash' || !sh) return false;
      if (broad) {
        // The command itself (full path or basename) and every wrapper form around it.
        return sh.commands.some(
          (c) =>
            bashPatternMatches(rule.pattern, c.line, c.unknownTail, true) ||
            bashPatternMatches(rule.pattern, c.baseLine, c.unknownTail, true) ||
            c.outer.some((l) => bashPatternMatches(rule.pattern, l, false, true)),
        );
      }
      return (
        sh.commands.length > 0 &&
        sh.commands.every((c) => bashPatternMatches(rule.pattern, c.line, c.unknownTail, false))
      );
    }
    case 'path': {
      let paths: readonly string[];
      if (name === 'Bash') {
        // Redirections are file access too: `> f` is an edit, `< f` a read.
        const sh = s.shell;
        if (!sh) return false;
        if (EDIT_FAMILY.has(rule.tool)) paths = sh.writes;
        else if (rule.tool === 'Read') paths = sh.reads;
        else return false;
      } else {
        if (!pathRuleApplies(rule.tool, name)) return false;
        paths = s.paths;
      }
      const strictness = broad ? 'broad' : 'narrow';
      if (broad) {
        // A search (Glob/Grep) rooted at a directory whose every child is denied is denied too;
        // a search of a wider tree must drop denied files itself (PermissionEngine.isPathDenied).
        const search = s.tool.kind === 'glob' || s.tool.kind === 'grep';
        return paths.some(
          (p) =>
            rule.path.matches(p, pathCtx, strictness) ||
            (search && rule.path.matches(`${p === '/' ? '' : p}/${PROBE}`, pathCtx, strictness)),
        );
      }
      return paths.length > 0 && paths.every((p) => rule.path.matches(p, pathCtx, strictness));
    }
    case 'domain':
      if (name !== 'WebFetch') return false;
      if (!s.url) return broad;
      return hostMatches(rule.host, s.url.host, s.url.port, s.url.port);
    case 'specifier':
      // A specifier the engine does not understand: never grants, always restricts.
      return broad && rule.tool === name;
  }
}
