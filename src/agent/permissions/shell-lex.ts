// Tokeniser for POSIX/bash command lines: words (quotes, escapes, expansions), operators,
// redirections and here-doc bodies. Anything it cannot read with confidence becomes an issue.

export interface WordToken {
  readonly type: 'word';
  /** The word after quote removal (expansions left as written). */
  readonly value: string;
  readonly raw: string;
  /** Contains an unquoted or double-quoted parameter expansion (`$X`, `${X}`). */
  readonly dynamic: boolean;
  /** Contains an unquoted glob character. */
  readonly glob: boolean;
  /** Some part was quoted or escaped (so it is never a keyword or an assignment name). */
  readonly quoted: boolean;
}
export interface OpToken {
  readonly type: 'op';
  readonly value: string;
}
export interface RedirToken {
  readonly type: 'redir';
  readonly op: string;
  readonly fd: number | undefined;
}
export type Token = WordToken | OpToken | RedirToken;

export interface LexResult {
  tokens: Token[];
  issues: string[];
}

const OPERATORS = ['&&', '||', ';;', '|&', ';', '|', '&', '(', ')', '\n'];
const REDIRS = ['&>>', '&>', '<<<', '<<-', '<<', '<>', '>>', '>|', '>&', '<&', '>', '<'];
const META = new Set([' ', '\t', '\n', ';', '&', '|', '<', '>', '(', ')']);

/** Splits `src` into tokens; never throws. */
export function lexShell(src: string): LexResult {
  const tokens: Token[] = [];
  const issues: string[] = [];
  const pendingHeredocs: { delimiter: string; quoted: boolean; strip: boolean }[] = [];
  let i = 0;
  const n = src.length;
  const issue = (msg: string): void => {
    if (!issues.includes(msg)) issues.push(msg);
  };

  const readHeredocs = (): void => {
    for (const doc of pendingHeredocs.splice(0)) {
      let found = false;
      const body: string[] = [];
      while (i < n) {
        const end = src.indexOf('\n', i);
        const line = src.slice(i, end < 0 ? n : end);
        i = end < 0 ? n : end + 1;
        const cmp = doc.strip ? line.replace(/^\t+/, '') : line;
        if (cmp === doc.delimiter) {
          found = true;
          break;
        }
        body.push(line);
      }
      if (!found) issue('unterminated here-document');
      const text = body.join('\n');
      if (!doc.quoted && (/\$\(/.test(text) || text.includes('`'))) {
        issue('command substitution inside a here-document');
      }
    }
  };

  while (i < n) {
    const c = src[i] ?? '';
    if (c === ' ' || c === '\t' || c === '\r') {
      i++;
      continue;
    }
    if (c === '\\' && src[i + 1] === '\n') {
      i += 2;
      continue;
    }
    if (c === '#') {
      while (i < n && src[i] !== '\n') i++;
      continue;
    }
    if (c === '\n') {
      tokens.push({ type: 'op', value: '\n' });
      i++;
      if (pendingHeredocs.length > 0) readHeredocs();
      continue;
    }
    if ((c === '<' || c === '>') && src[i + 1] === '(') {
      issue('process substitution');
      i = skipBalanced(src, i + 1, issue);
      continue;
    }
    const redir = REDIRS.find((r) => src.startsWith(r, i));
    if (redir) {
      tokens.push({ type: 'redir', op: redir, fd: undefined });
      i += redir.length;
      if (redir === '<<' || redir === '<<-') {
        const w = readWord();
        if (!w) {
          issue('here-document without a delimiter');
          continue;
        }
        tokens.push(w);
        pendingHeredocs.push({ delimiter: w.value, quoted: w.quoted, strip: redir === '<<-' });
      }
      continue;
    }
    const op = OPERATORS.find((o) => src.startsWith(o, i));
    if (op) {
      tokens.push({ type: 'op', value: op });
      i += op.length;
      continue;
    }
    const w = readWord();
    if (!w) {
      i++;
      continue;
    }
    // `2>file`, `2>&1`: an all-digit unquoted word glued to a redirection is its fd.
    if (/^\d+$/.test(w.raw) && (src[i] === '<' || src[i] === '>')) {
      const r = REDIRS.find((x) => src.startsWith(x, i));
      if (r && r !== '<<' && r !== '<<-' && r !== '<<<' && !src.startsWith('>(', i)) {
        tokens.push({ type: 'redir', op: r, fd: Number(w.raw) });
        i += r.length;
        continue;
      }
    }
    tokens.push(w);
  }
  if (pendingHeredocs.length > 0) readHeredocs();
  return { tokens, issues };

  function readWord(): WordToken | undefined {
    while (i < n && (src[i] === ' ' || src[i] === '\t')) i++;
    const start = i;
    let value = '';
    let dynamic = false;
    let glob = false;
    let quoted = false;
    while (i < n) {
      const c = src[i] ?? '';
      if (META.has(c)) break;
      if (c === '\\') {
        quoted = true;
        if (src[i + 1] === '\n') {
          i += 2;
          continue;
        }
        if (i + 1 >= n) {
          issue('trailing backslash');
          i++;
          continue;
        }
        value += src[i + 1] ?? '';
        i += 2;
        continue;
      }
      if (c === "'") {
        quoted = true;
        const end = src.indexOf("'", i + 1);
        if (end < 0) {
          issue('unbalanced single quote');
          value += src.slice(i + 1);
          i = n;
          break;
        }
        value += src.slice(i + 1, end);
        i = end + 1;
        continue;
      }
      if (c === '$' && src[i + 1] === "'") {
        issue("ANSI-C quoted string ($'...')");
        quoted = true;
        const end = src.indexOf("'", i + 2);
        value += src.slice(i + 2, end < 0 ? n : end);
        i = end < 0 ? n : end + 1;
        continue;
      }
      if (c === '"' || (c === '$' && src[i + 1] === '"')) {
        quoted = true;
        i += c === '$' ? 2 : 1;
        let closed = false;
        while (i < n) {
          const d = src[i] ?? '';
          if (d === '"') {
            closed = true;
            i++;
            break;
          }
          if (d === '\\' && i + 1 < n) {
            const e = src[i + 1] ?? '';
            if ('$`"\\\n'.includes(e)) {
              if (e !== '\n') value += e;
            } else value += d + e;
            i += 2;
            continue;
          }
          if (d === '$' || d === '`') {
            const r = readExpansion();
            value += r.text;
            dynamic = true;
            continue;
          }
          value += d;
          i++;
        }
        if (!closed) issue('unbalanced double quote');
        continue;
      }
      if (c === '$' || c === '`') {
        const r = readExpansion();
        value += r.text;
        if (r.expanded) dynamic = true;
        continue;
      }
      if (c === '*' || c === '?' || c === '[') glob = true;
      value += c;
      i++;
    }
    if (i === start) return undefined;
    return { type: 'word', value, raw: src.slice(start, i), dynamic, glob, quoted };
  }

  /** Reads `$...` or a backtick at `i`; substitutions are issues, parameters are dynamic. */
  function readExpansion(): { text: string; expanded: boolean } {
    const start = i;
    if (src[i] === '`') {
      issue('command substitution');
      const end = src.indexOf('`', i + 1);
      if (end < 0) issue('unbalanced backtick');
      i = end < 0 ? n : end + 1;
      return { text: src.slice(start, i), expanded: true };
    }
    const next = src[i + 1] ?? '';
    if (next === '(') {
      issue(src[i + 2] === '(' ? 'arithmetic expansion' : 'command substitution');
      i = skipBalanced(src, i + 1, issue);
      return { text: src.slice(start, i), expanded: true };
    }
    if (next === '{') {
      const end = src.indexOf('}', i + 2);
      if (end < 0) {
        issue('unbalanced ${');
        i = n;
      } else {
        const inner = src.slice(i + 2, end);
        if (/\$\(|`/.test(inner)) issue('command substitution');
        i = end + 1;
      }
      return { text: src.slice(start, i), expanded: true };
    }
    const m = /^\$(?:[A-Za-z_][A-Za-z0-9_]*|[0-9@*#?$!-])/.exec(src.slice(i, i + 256));
    if (m) {
      i += m[0].length;
      return { text: m[0], expanded: true };
    }
    i++;
    return { text: '$', expanded: false };
  }
}

/** Skips a balanced `( ... )` group starting at `open`; returns the index after it. */
function skipBalanced(src: string, open: number, issue: (m: string) => void): number {
  let depth = 0;
  let quote: string | undefined;
  for (let j = open; j < src.length; j++) {
    const c = src[j];
    if (quote) {
      if (c === '\\' && quote === '"') j++;
      else if (c === quote) quote = undefined;
      continue;
    }
    if (c === '\\') j++;
    else if (c === "'" || c === '"') quote = c;
    else if (c === '(') depth++;
    else if (c === ')' && --depth === 0) return j + 1;
  }
  issue('unbalanced parenthesis');
  return src.length;
}
