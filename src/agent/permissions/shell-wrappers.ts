// Shell command analysis, step 2 helpers: how each wrapper (timeout, nice, env, xargs, find -exec,
// bash -c, ...) nests the command it runs, so the rules see the command that really executes.
import type { WordToken } from './shell-lex.js';

export interface Unwrapped {
  /** Commands run by the wrapper; `unknownTail` when run-time arguments get appended. */
  readonly inner: { words: WordToken[]; unknownTail: boolean }[];
  /** A script string to parse as a whole command line (`bash -c '...'`). */
  readonly script?: WordToken;
  /** Environment names the wrapper sets for the inner command. */
  readonly envNames: string[];
  /** Words of the wrapper itself that remain a command of their own (`find . -name x`). */
  readonly self?: WordToken[];
  readonly issues: string[];
}

const SHELLS = new Set(['bash', 'sh', 'dash', 'zsh', 'ksh', 'ash', 'mksh', 'busybox-sh']);

/** Returns how `words` wraps another command, or undefined when it is not a wrapper. */
export function unwrap(words: WordToken[], name: string): Unwrapped | undefined {
  const rest = words.slice(1);
  switch (name) {
    case 'nohup':
    case 'builtin':
      return simple(rest);
    case 'exec':
      return simple(skipOptions(rest, new Set(['-a'])));
    case 'time':
      return simple(skipOptions(rest, new Set()));
    case 'command':
      // `command -v x` only looks a name up; it is a command of its own.
      if (rest.some((w) => /^-[a-zA-Z]*[vV]/.test(w.value))) return undefined;
      return simple(skipOptions(rest, new Set()));
    case 'nice':
      return simple(skipOptions(rest, new Set(['-n']), /^-\d+$/));
    case 'stdbuf':
      return simple(skipOptions(rest, new Set(['-i', '-o', '-e'])));
    case 'timeout': {
      const after = skipOptions(rest, new Set(['-s', '-k', '--signal', '--kill-after']));
      return simple(after.slice(1));
    }
    case 'env':
      return unwrapEnv(rest);
    case 'xargs': {
      const takesArg = new Set(['-I', '-L', '-n', '-P', '-s', '-d', '-E', '-a', '--arg-file']);
      const after = skipOptions(rest, takesArg, /^-[IiLlnPsdEea].+/);
      const inner = after.length > 0 ? after : [literal('echo')];
      return { inner: [{ words: inner, unknownTail: true }], envNames: [], issues: [] };
    }
    case 'find':
      return unwrapFind(words);
    default:
      if (SHELLS.has(name)) return unwrapShell(rest);
      return undefined;
  }
}

function simple(inner: WordToken[]): Unwrapped | undefined {
  if (inner.length === 0) return undefined;
  return { inner: [{ words: inner, unknownTail: false }], envNames: [], issues: [] };
}

/** Skips leading options; `takesArg` options consume the next word unless glued (`-n5`). */
function skipOptions(words: WordToken[], takesArg: Set<string>, alsoSkip?: RegExp): WordToken[] {
  let i = 0;
  while (i < words.length) {
    const v = words[i]?.value ?? '';
    if (v === '--') return words.slice(i + 1);
    if (!v.startsWith('-') || v === '-') break;
    if (alsoSkip?.test(v) || v.includes('=')) {
      i++;
      continue;
    }
    i += takesArg.has(v) ? 2 : 1;
  }
  return words.slice(i);
}

function unwrapEnv(rest: WordToken[]): Unwrapped | undefined {
  const envNames: string[] = [];
  const issues: string[] = [];
  let i = 0;
  for (; i < rest.length; i++) {
    const w = rest[i] as WordToken;
    const v = w.value;
    if (v === '-i' || v === '-' || v === '-0' || v === '--ignore-environment' || v === '--null') {
      continue;
    }
    if (v === '-u' || v === '--unset') {
      i++;
      continue;
    }
    if (v.startsWith('--unset=') || /^-u./.test(v)) continue;
    if (
      v === '-C' ||
      v === '--chdir' ||
      v.startsWith('--chdir=') ||
      v === '-S' ||
      v === '--split-string' ||
      v.startsWith('-S') ||
      v.startsWith('--split-string=')
    ) {
      issues.push(`env option ${v.split('=')[0] ?? v} is not analysed`);
      return { inner: [], envNames, issues };
    }
    if (v.startsWith('-')) {
      issues.push(`unknown env option ${v}`);
      return { inner: [], envNames, issues };
    }
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=/.exec(v);
    if (m) {
      envNames.push(m[1] ?? '');
      continue;
    }
    break;
  }
  const inner = rest.slice(i);
  if (inner.length === 0 && envNames.length === 0) return undefined;
  return {
    inner: inner.length > 0 ? [{ words: inner, unknownTail: false }] : [],
    envNames,
    issues,
  };
}

function unwrapFind(words: WordToken[]): Unwrapped {
  const self: WordToken[] = [];
  const inner: { words: WordToken[]; unknownTail: boolean }[] = [];
  for (let i = 0; i < words.length; i++) {
    const w = words[i] as WordToken;
    if (!['-exec', '-execdir', '-ok', '-okdir'].includes(w.value)) {
      self.push(w);
      continue;
    }
    const cmd: WordToken[] = [];
    let j = i + 1;
    for (; j < words.length; j++) {
      const v = words[j]?.value;
      if (v === ';' || v === '+') break;
      const word = words[j] as WordToken;
      if (v !== '{}') cmd.push(word);
    }
    // `{}` stands for run-time file names: the rest of the command is unknown.
    if (cmd.length > 0) inner.push({ words: cmd, unknownTail: true });
    i = j;
  }
  return { inner, self, envNames: [], issues: [] };
}

function unwrapShell(rest: WordToken[]): Unwrapped | undefined {
  let hasC = false;
  for (let i = 0; i < rest.length; i++) {
    const w = rest[i] as WordToken;
    const v = w.value;
    if (
      v === '-o' ||
      v === '+o' ||
      v === '-O' ||
      v === '+O' ||
      v === '--rcfile' ||
      v === '--init-file'
    ) {
      i++;
      continue;
    }
    if (/^-[a-zA-Z]+$/.test(v)) {
      if (v.includes('c')) hasC = true;
      continue;
    }
    if (v.startsWith('--') || v.startsWith('+')) continue;
    if (!hasC) return undefined; // `bash script.sh`: a command of its own
    return { inner: [], script: w, envNames: [], issues: [] };
  }
  if (hasC) return { inner: [], envNames: [], issues: ['shell -c without a script'] };
  return undefined;
}

function literal(value: string): WordToken {
  return { type: 'word', value, raw: value, dynamic: false, glob: false, quoted: false };
}
