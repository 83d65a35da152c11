// Shell command analysis, step 2: every command a line would run, looked through wrappers and
// `bash -c`, with the files it writes by redirection and the reasons it cannot be judged.
import { posix } from 'node:path';
import { parseShell, type SimpleCommand, type WordToken } from './shell-parse.js';
import { isDangerousEnv } from './shell-env.js';
import { unwrap } from './shell-wrappers.js';

export interface CommandUse {
  /** Argument vector after quote removal (expansions left as written). */
  readonly argv: readonly string[];
  /** Canonical form matched against Bash rules: words joined by one space, odd words quoted. */
  readonly line: string;
  /** The same with the command name reduced to its basename (`/bin/rm` → `rm`). */
  readonly baseLine: string;
  /** Run-time arguments are appended (xargs, find -exec {}). */
  readonly unknownTail: boolean;
  /** Canonical forms of the wrappers around this command, outermost first. */
  readonly outer: readonly string[];
  /** Possible working directories when it runs (a `cd` may or may not have happened). */
  readonly cwds: readonly string[];
}

export interface ShellAnalysis {
  readonly commands: CommandUse[];
  /** Absolute paths written by output redirections (every possible resolution). */
  readonly writes: string[];
  /** Absolute paths read by input redirections. */
  readonly reads: string[];
  /** Non-empty: the line cannot be judged with confidence and needs approval. */
  readonly issues: string[];
}

export interface AnalyzeOptions {
  cwd: string;
  homeDir: string;
  /** Nesting limit for `bash -c` inside `bash -c` ...; deeper is an issue. Default 5. */
  maxDepth?: number;
}

const HARMLESS_TARGETS = new Set(['/dev/null', '/dev/stdout', '/dev/stderr', '/dev/tty']);
const DECLARERS = new Set(['export', 'declare', 'typeset', 'readonly', 'local']);

/**
 * Analyses a Bash command line.
 * @example analyzeShell('timeout 5 rm -rf /', { cwd: '/workspace', homeDir: '/root' }).commands[0]?.line // 'rm -rf /'
 */
export function analyzeShell(src: string, options: AnalyzeOptions): ShellAnalysis {
  const out: ShellAnalysis = { commands: [], writes: [], reads: [], issues: [] };
  const state = { cwds: [options.cwd], cwdKnown: true };
  analyzeInto(src, options, out, state, [], 0);
  return out;
}

interface CwdState {
  cwds: string[];
  cwdKnown: boolean;
}

function analyzeInto(
  src: string,
  options: AnalyzeOptions,
  out: ShellAnalysis,
  state: CwdState,
  outer: string[],
  depth: number,
): void {
  const issue = (m: string): void => {
    if (!out.issues.includes(m)) out.issues.push(m);
  };
  if (depth > (options.maxDepth ?? 5)) {
    issue('nested shells too deep');
    return;
  }
  const parsed = parseShell(src);
  parsed.issues.forEach(issue);
  for (const cmd of parsed.commands) {
    for (const a of cmd.assignments) {
      if (isDangerousEnv(a.name)) issue(`sets ${a.name}`);
    }
    collectRedirections(cmd, options, out, state, issue);
    if (cmd.words.length > 0) analyzeWords(cmd.words, false, outer, options, out, state, depth);
  }
}

function collectRedirections(
  cmd: SimpleCommand,
  options: AnalyzeOptions,
  out: ShellAnalysis,
  state: CwdState,
  issue: (m: string) => void,
): void {
  for (const r of cmd.redirections) {
    if (r.kind === 'dup' || r.kind === 'data' || !r.target) continue;
    const t = r.target;
    if (t.dynamic || t.glob) {
      issue(`redirection target "${t.raw}" is not a literal path`);
      continue;
    }
    if (!t.value.startsWith('/') && !t.value.startsWith('~') && !state.cwdKnown) {
      issue('relative redirection after a change to an unknown directory');
      continue;
    }
    for (const p of resolveAll(t.value, state.cwds, options.homeDir)) {
      if (HARMLESS_TARGETS.has(p) || p.startsWith('/dev/fd/')) continue;
      const list = r.kind === 'write' ? out.writes : out.reads;
      if (!list.includes(p)) list.push(p);
    }
  }
}

function analyzeWords(
  words: WordToken[],
  unknownTail: boolean,
  outer: string[],
  options: AnalyzeOptions,
  out: ShellAnalysis,
  state: CwdState,
  depth: number,
): void {
  const issue = (m: string): void => {
    if (!out.issues.includes(m)) out.issues.push(m);
  };
  const first = words[0];
  if (!first) return;
  if (first.dynamic) issue('command name comes from a variable');
  if (first.glob) issue('command name contains a wildcard');
  const name = posix.basename(first.value);
  const line = canonical(words.map((w) => w.value));
  if (name === 'eval') issue('eval');
  if ((name === 'source' || name === '.') && words.slice(1).some((w) => w.dynamic)) {
    issue('source of a variable');
  }
  if (DECLARERS.has(name)) {
    for (const w of words.slice(1)) {
      const m = /^([A-Za-z_][A-Za-z0-9_]*)/.exec(w.value);
      if (m && isDangerousEnv(m[1] ?? '')) issue(`sets ${m[1]}`);
      if (w.dynamic && !w.value.includes('=')) issue('declares a variable named by a variable');
    }
  }
  const wrapped = unwrap(words, name);
  if (wrapped) {
    wrapped.issues.forEach(issue);
    for (const env of wrapped.envNames) if (isDangerousEnv(env)) issue(`sets ${env}`);
    const nextOuter = [...outer, line];
    if (wrapped.self) {
      pushCommand(wrapped.self, unknownTail, outer, out, state);
    }
    if (wrapped.script) {
      if (wrapped.script.dynamic) issue('shell -c script comes from a variable');
      else analyzeInto(wrapped.script.value, options, out, state, nextOuter, depth + 1);
    }
    for (const inner of wrapped.inner) {
      analyzeWords(
        inner.words,
        unknownTail || inner.unknownTail,
        nextOuter,
        options,
        out,
        state,
        depth + 1,
      );
    }
    if (!wrapped.self && !wrapped.script && wrapped.inner.length === 0) {
      pushCommand(words, unknownTail, outer, out, state);
    }
    return;
  }
  pushCommand(words, unknownTail, outer, out, state);
  if (name === 'cd' || name === 'pushd' || name === 'popd') trackCd(words, options, state);
}

function pushCommand(
  words: WordToken[],
  unknownTail: boolean,
  outer: string[],
  out: ShellAnalysis,
  state: CwdState,
): void {
  const argv = words.map((w) => w.value);
  const base = [posix.basename(argv[0] ?? ''), ...argv.slice(1)];
  out.commands.push({
    argv,
    line: canonical(argv),
    baseLine: canonical(base),
    unknownTail,
    outer: [...outer],
    cwds: state.cwdKnown ? [...state.cwds] : [],
  });
}

/** A `cd` may succeed or fail (or run in a subshell): keep both the old and new directories. */
function trackCd(words: WordToken[], options: AnalyzeOptions, state: CwdState): void {
  const args = words.slice(1).filter((w) => w.value !== '--' && !/^-[LPe@]+$/.test(w.value));
  const target = args[0];
  if (
    words[0]?.value === 'popd' ||
    (target && (target.dynamic || target.glob || target.value === '-'))
  ) {
    state.cwdKnown = false;
    return;
  }
  const dest = target ? target.value : options.homeDir;
  for (const p of resolveAll(dest, [...state.cwds], options.homeDir)) {
    if (!state.cwds.includes(p)) state.cwds.push(p);
  }
}

function resolveAll(p: string, cwds: readonly string[], homeDir: string): string[] {
  if (p === '~' || p.startsWith('~/')) return [posix.resolve(homeDir, '.' + p.slice(1))];
  if (p.startsWith('/')) return [posix.resolve(p)];
  return cwds.map((c) => posix.resolve(c, p));
}

/** Words joined by single spaces; a word with blanks, quotes or operators is single-quoted. */
export function canonical(argv: readonly string[]): string {
  return argv
    .map((w) => (w === '' || /[\s'"\\;&|<>()`]/.test(w) ? `'${w.replace(/'/g, `'\\''`)}'` : w))
    .join(' ');
}
