// Rule parsing and path matching: rule forms, wildcard refusal, gitignore globs and
// normalisation of `..`, `//` and absolute paths before matching.
import { describe, expect, it } from 'vitest';
import { PolicyError } from '../../src/errors.js';
import { compileGlob } from '../../src/agent/permissions/glob-match.js';
import { parseRule } from '../../src/agent/permissions/rule.js';
import { parsePathSpecifier, resolveToolPath } from '../../src/agent/permissions/path-rule.js';

const ctx = { workspaceRoot: '/workspace', homeDir: '/root' };

describe('parseRule', () => {
  it.each([
    ['Bash', 'tool'],
    ['Bash(npm run test:*)', 'bash'],
    ['Bash(git status)', 'bash'],
    ['Read(./secrets/**)', 'path'],
    ['Edit(src/*.ts)', 'path'],
    ['WebFetch(domain:example.com)', 'domain'],
    ['mcp__github__create_issue', 'mcp'],
    ['mcp__github__*', 'mcp'],
    ['mcp__github', 'mcp'],
  ])('parses %s as a %s rule', (rule, kind) => {
    expect(parseRule(rule).kind).toBe(kind);
  });

  it('reads `:*` as a word-boundary prefix and plain text as exact', () => {
    const p = parseRule('Bash(npm run test:*)');
    const e = parseRule('Bash(git status)');
    expect(p.kind === 'bash' && p.pattern).toEqual({ kind: 'prefix', text: 'npm run test' });
    expect(e.kind === 'bash' && e.pattern).toEqual({ kind: 'exact', text: 'git status' });
  });

  it.each([
    '*',
    '*Bash',
    'Bash(*)',
    'Bash(* --help)',
    'Read(**)',
    'Read(//**)',
    'Read(/**)',
    'mcp__*',
    'mcp__*__x',
    'Bash(:*)',
    'WebFetch(domain:*)',
    'Read(./a/../b)',
    'Bash(ls',
    '(x)',
  ])('rejects %s with a PolicyError', (rule) => {
    expect(() => parseRule(rule)).toThrow(PolicyError);
  });
});

describe('compileGlob', () => {
  it.each([
    ['/w/src/*.ts', '/w/src/a.ts', true],
    ['/w/src/*.ts', '/w/src/x/a.ts', false],
    ['/w/src/**/*.ts', '/w/src/a.ts', true],
    ['/w/src/**/*.ts', '/w/src/x/y/a.ts', true],
    ['/w/src/**', '/w/src/x/y', true],
    ['/w/src/**', '/w/src', false],
    ['/w/a?.md', '/w/ab.md', true],
    ['/w/a?.md', '/w/a/.md', false],
    ['/w/[abc].txt', '/w/b.txt', true],
    ['/w/[!abc].txt', '/w/b.txt', false],
    ['/w/[a-c]x', '/w/cx', true],
    ['/w/file.ts', '/w/fileXts', false],
  ])('%s vs %s → %s', (glob, path, want) => {
    expect(compileGlob(glob).test(path)).toBe(want);
  });
});

describe('path specifiers', () => {
  const m = (spec: string, input: string, broad = true): boolean =>
    parsePathSpecifier(spec).matches(
      resolveToolPath(input, '/workspace', '/root'),
      ctx,
      broad ? 'broad' : 'narrow',
    );

  it('normalises `..`, duplicate slashes and relative paths before matching', () => {
    expect(m('./secrets/**', '/workspace/x/../secrets/a')).toBe(true);
    expect(m('./secrets/**', 'secrets//a')).toBe(true);
    expect(m('./secrets/**', './x/./../secrets/deep/er/k')).toBe(true);
    expect(m('./secrets/**', '/workspace/secretsX/a')).toBe(false);
    expect(m('./secrets/**', '/workspace/src/a')).toBe(false);
  });

  it('anchors `//` at the filesystem root and matches contents of a matched directory', () => {
    expect(m('//etc/**', '/etc/passwd')).toBe(true);
    expect(m('//etc/**', '/workspace/etc/passwd')).toBe(false);
    expect(m('//etc', '/etc/ssh/sshd_config')).toBe(true);
  });

  it('never matches `~` rules inside the workspace', () => {
    expect(m('~/.ssh/**', '/root/.ssh/id_rsa')).toBe(true);
    expect(m('~/.ssh/**', '~/.ssh/id_rsa')).toBe(true);
    expect(
      parsePathSpecifier('~/**').matches(
        '/workspace/a',
        { workspaceRoot: '/workspace', homeDir: '/workspace' },
        'broad',
      ),
    ).toBe(false);
  });

  it('matches a bare name at any depth (anywhere for deny, workspace only for allow)', () => {
    expect(m('.env', '/workspace/app/.env')).toBe(true);
    expect(m('.env', '/tmp/.env', true)).toBe(true);
    expect(m('.env', '/tmp/.env', false)).toBe(false);
    expect(m('*.pem', '/workspace/certs/a.pem', false)).toBe(true);
  });

  it('reads a `/x` rule as workspace-relative, and also absolute for deny', () => {
    expect(m('/etc/passwd', '/workspace/etc/passwd', false)).toBe(true);
    expect(m('/etc/passwd', '/etc/passwd', false)).toBe(false);
    expect(m('/etc/passwd', '/etc/passwd', true)).toBe(true);
  });

  it('matches Edit(src/*.ts) relative to the workspace', () => {
    expect(m('src/*.ts', '/workspace/src/a.ts', false)).toBe(true);
    expect(m('src/*.ts', '/workspace/lib/src/a.ts', false)).toBe(false);
  });
});
