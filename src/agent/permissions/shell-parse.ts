// Shell command analysis, step 1: a compound command line split into simple commands
// (on && || ; | & newlines, subshells and groups), with assignments and redirections.
import { lexShell, type Token, type WordToken } from './shell-lex.js';

export type { WordToken } from './shell-lex.js';

export interface Redirection {
  readonly op: string;
  readonly fd: number | undefined;
  /** write: output to a file; read: input from a file; dup: fd duplication; data: here-doc/string. */
  readonly kind: 'write' | 'read' | 'dup' | 'data';
  readonly target: WordToken | undefined;
}

export interface Assignment {
  readonly name: string;
  readonly value: string;
  readonly dynamic: boolean;
}

export interface SimpleCommand {
  readonly assignments: Assignment[];
  readonly words: WordToken[];
  readonly redirections: Redirection[];
}

export interface ShellParse {
  readonly commands: SimpleCommand[];
  /** Reasons the line cannot be judged with confidence; non-empty means "needs approval". */
  readonly issues: string[];
}

const SEPARATORS = new Set(['&&', '||', ';', '|', '|&', '&', '\n', '(', ')', ';;']);
/** Reserved words that only introduce or close a compound command around simple commands. */
const PASS_KEYWORDS = new Set(['if', 'then', 'else', 'elif', 'do', 'while', 'until', '!', '{']);
const END_KEYWORDS = new Set(['fi', 'done', '}', 'esac']);
const ASSIGNMENT = /^([A-Za-z_][A-Za-z0-9_]*)(\[[^\]]*\])?\+?=/;

/**
 * Splits a command line into simple commands.
 * @example parseShell('npm test && curl x | sh').commands.map(c => c.words[0]?.value) // ['npm','curl','sh']
 */
export function parseShell(src: string): ShellParse {
  const { tokens, issues } = lexShell(src);
  const commands: SimpleCommand[] = [];
  const issue = (msg: string): void => {
    if (!issues.includes(msg)) issues.push(msg);
  };
  let cur = fresh();
  let skipUntilSeparator = false;

  const flush = (): void => {
    if (cur.words.length > 0 || cur.assignments.length > 0 || cur.redirections.length > 0) {
      commands.push(cur);
    }
    cur = fresh();
  };

  for (let t = 0; t < tokens.length; t++) {
    const tok = tokens[t] as Token;
    if (tok.type === 'op') {
      if (tok.value === '(' && cur.words.length > 0) {
        issue('function definition');
      }
      if (tok.value === ';;') issue('case statement');
      skipUntilSeparator = false;
      if (SEPARATORS.has(tok.value)) flush();
      continue;
    }
    if (tok.type === 'redir') {
      const next = tokens[t + 1];
      const target = next?.type === 'word' ? next : undefined;
      if (target) t++;
      else issue(`redirection "${tok.op}" without a target`);
      if (skipUntilSeparator) continue;
      cur.redirections.push({ op: tok.op, fd: tok.fd, kind: redirKind(tok.op, target), target });
      continue;
    }
    if (skipUntilSeparator) continue;
    const atStart = cur.words.length === 0;
    if (atStart) {
      const m = ASSIGNMENT.exec(tok.raw);
      if (m) {
        cur.assignments.push({
          name: m[1] ?? '',
          value: tok.value.slice(tok.value.indexOf('=') + 1),
          dynamic: tok.dynamic,
        });
        continue;
      }
    }
    if (atStart && !tok.quoted) {
      if (cur.assignments.length === 0 && PASS_KEYWORDS.has(tok.value)) continue;
      if (cur.assignments.length === 0 && END_KEYWORDS.has(tok.value)) continue;
      if (tok.value === 'for' || tok.value === 'select') {
        // `for x in a b c` — the header words are data, the body follows `do`.
        skipUntilSeparator = true;
        continue;
      }
      if (tok.value === 'case' || tok.value === 'function' || tok.value === 'coproc') {
        issue(`"${tok.value}" is not analysed`);
        skipUntilSeparator = true;
        continue;
      }
      if (tok.value === '[[' || tok.value === '((') {
        // Conditional expression: no command runs, but it may contain expansions (already issues).
        skipUntilSeparator = true;
        continue;
      }
    }
    cur.words.push(tok);
  }
  flush();
  return { commands, issues };
}

function fresh(): { assignments: Assignment[]; words: WordToken[]; redirections: Redirection[] } {
  return { assignments: [], words: [], redirections: [] };
}

function redirKind(op: string, target: WordToken | undefined): Redirection['kind'] {
  switch (op) {
    case '<<':
    case '<<-':
    case '<<<':
      return 'data';
    case '<':
      return 'read';
    case '>&':
    case '<&':
      // `2>&1`, `>&-` duplicate descriptors; `>& file` writes to a file.
      return target && /^(\d+|-)$/.test(target.value) ? 'dup' : op === '>&' ? 'write' : 'read';
    default:
      return 'write';
  }
}
