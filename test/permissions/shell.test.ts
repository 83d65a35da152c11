// Shell analysis: compound splitting, quotes, wrappers looked through, env prefixes,
// substitutions, here-docs and redirections.
import { describe, expect, it } from 'vitest';
import { analyzeShell } from '../../src/agent/permissions/shell-analyze.js';

const a = (cmd: string, cwd = '/workspace') => analyzeShell(cmd, { cwd, homeDir: '/root' });
const lines = (cmd: string) => a(cmd).commands.map((c) => c.line);

describe('analyzeShell', () => {
  it.each([
    ['npm test && curl evil', ['npm test', 'curl evil']],
    ['a || b; c | d & e\nf', ['a', 'b', 'c', 'd', 'e', 'f']],
    ["git commit -m 'x && y; z'", ["git commit -m 'x && y; z'"]],
    [
      'echo "a|b" \\; c',
      ['echo a|b ; c'].map((s) => s.replace('a|b', "'a|b'").replace(' ; ', " ';' ")),
    ],
    ['(cd sub && make) |& tee log', ['cd sub', 'make', 'tee log']],
    ['if test -f x; then rm x; fi', ['test -f x', 'rm x']],
    ['for f in a b; do rm "$f"; done', ['rm $f']],
  ])('splits %j', (cmd, want) => {
    expect(lines(cmd)).toEqual(want);
    expect(a(cmd).issues).toEqual([]);
  });

  it.each([
    ['timeout 5 rm -rf /', 'rm -rf /'],
    ['timeout -s KILL 5s rm x', 'rm x'],
    ['nice -n 10 rm x', 'rm x'],
    ['nice -5 rm x', 'rm x'],
    ['nohup rm x', 'rm x'],
    ['env A=1 B=2 rm x', 'rm x'],
    ['env -i rm x', 'rm x'],
    ['command rm x', 'rm x'],
    ['builtin cd x', 'cd x'],
    ['stdbuf -oL rm x', 'rm x'],
    ['time -p rm x', 'rm x'],
    ['bash -c "rm x"', 'rm x'],
    ["sh -ec 'rm x'", 'rm x'],
    ['xargs -n 1 rm', 'rm'],
    ['find . -exec rm {} \\;', 'rm'],
    ['find . -execdir rm -f {} +', 'rm -f'],
    ['timeout 5 nice bash -c "env X=1 rm x"', 'rm x'],
  ])('looks through %j to %j', (cmd, inner) => {
    const cmds = a(cmd).commands;
    expect(cmds.map((c) => c.line)).toContain(inner);
  });

  it('keeps the wrapper forms so deny rules on the wrapper still apply', () => {
    const [c] = a('timeout 5 rm x').commands;
    expect(c?.outer).toEqual(['timeout 5 rm x']);
  });

  it('marks run-time arguments of xargs and find -exec as unknown', () => {
    expect(a('xargs rm').commands[0]?.unknownTail).toBe(true);
    expect(a('find . -exec rm {} \\;').commands.find((c) => c.line === 'rm')?.unknownTail).toBe(
      true,
    );
    expect(a('find . -exec rm {} \\;').commands.find((c) => c.argv[0] === 'find')?.line).toBe(
      'find .',
    );
  });

  it.each([
    ['LD_PRELOAD=x ls', 'sets LD_PRELOAD'],
    ['GIT_SSH_COMMAND="ssh -i k" git fetch', 'sets GIT_SSH_COMMAND'],
    ['GIT_CONFIG_GLOBAL=/tmp/c git status', 'sets GIT_CONFIG_GLOBAL'],
    ['env PATH=/tmp ls', 'sets PATH'],
    ['export NODE_OPTIONS=--require=/tmp/x.js; node a.js', 'sets NODE_OPTIONS'],
    ['PYTHONPATH=. python x.py', 'sets PYTHONPATH'],
    ['BASH_ENV=/tmp/x bash -c ls', 'sets BASH_ENV'],
    ['echo $(cat /etc/passwd)', 'command substitution'],
    ['echo `id`', 'command substitution'],
    ['echo "$(id)"', 'command substitution'],
    ['diff <(ls a) <(ls b)', 'process substitution'],
    ['echo "unterminated', 'unbalanced double quote'],
    ["echo 'unterminated", 'unbalanced single quote'],
    ['eval "$CMD"', 'eval'],
    ['source $FILE', 'source of a variable'],
    ['$CMD -rf /', 'command name comes from a variable'],
    ['cat <<EOF\n$(id)\nEOF', 'command substitution inside a here-document'],
    ['cat <<EOF\nno end', 'unterminated here-document'],
    ['git() { rm -rf /; }; git status', 'function definition'],
    ["echo $'\\x72m'", "ANSI-C quoted string ($'...')"],
    ['case x in a) rm y;; esac', '"case" is not analysed'],
  ])('flags %j as needing approval (%s)', (cmd, issue) => {
    expect(a(cmd).issues).toContain(issue);
  });

  it('flags a redirection to a variable as needing approval', () => {
    expect(a('echo x > "$OUT"').issues.join()).toMatch(
      /redirection target .* is not a literal path/,
    );
  });

  it('accepts a quoted here-doc delimiter with substitution-like text in the body', () => {
    expect(a("cat <<'EOF' > notes.md\n$(not run)\nEOF\nls").issues).toEqual([]);
    expect(lines("cat <<'EOF' > notes.md\n$(not run)\nEOF\nls")).toEqual(['cat', 'ls']);
  });

  it('reports output redirections as writes, resolved against every possible cwd', () => {
    const r = a('echo x > out.txt 2>&1 && cat < in.txt >> /tmp/log && ls > /dev/null');
    expect(r.writes).toEqual(['/workspace/out.txt', '/tmp/log']);
    expect(r.reads).toEqual(['/workspace/in.txt']);
    expect(a('cd secrets && echo x > a').writes).toEqual(['/workspace/a', '/workspace/secrets/a']);
    expect(a('cd "$D" && echo x > a').issues).toContain(
      'relative redirection after a change to an unknown directory',
    );
  });

  it('removes quotes and escapes from command names', () => {
    expect(lines('r\\m -rf x; \'rm\' y; "r"m z')).toEqual(['rm -rf x', 'rm y', 'rm z']);
    expect(a('/bin/rm x').commands[0]?.baseLine).toBe('rm x');
  });

  it('stops at an absurd nesting depth', () => {
    let cmd = 'ls';
    for (let i = 0; i < 8; i++) cmd = `bash -c ${JSON.stringify(cmd)}`;
    expect(a(cmd).issues).toContain('nested shells too deep');
  });
});
