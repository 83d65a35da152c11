// A small gitignore-style glob compiler for permission path rules: `*`, `**`, `?`, `[...]`.
// Patterns and paths are absolute, normalised POSIX paths; no dependency, no I/O.

/**
 * Compiles a glob over absolute paths into a RegExp.
 * `*` and `?` never cross `/`; `**` as a whole segment matches zero or more segments;
 * `[abc]`, `[a-z]`, `[!x]` / `[^x]` are character classes within one segment.
 * @example compileGlob('/workspace/src/**\/*.ts').test('/workspace/src/a/b.ts') === true
 */
export function compileGlob(pattern: string): RegExp {
  const segments = pattern.split('/');
  let out = '';
  for (let i = 0; i < segments.length; i++) {
    const seg = segments[i] ?? '';
    const last = i === segments.length - 1;
    if (i === 0) {
      // Leading '' of an absolute pattern.
      out += segmentToRegex(seg);
      continue;
    }
    if (seg === '**') {
      // `/**` at the end: everything below (at least one segment); in the middle: zero or more.
      out += last ? '(?:/[^/]+)+' : '(?:/[^/]+)*';
      continue;
    }
    out += '/' + segmentToRegex(seg);
  }
  return new RegExp(`^${out}$`);
}

function segmentToRegex(seg: string): string {
  let out = '';
  for (let i = 0; i < seg.length; i++) {
    const c = seg[i] ?? '';
    if (c === '*') {
      while (seg[i + 1] === '*') i++;
      out += '[^/]*';
    } else if (c === '?') {
      out += '[^/]';
    } else if (c === '[') {
      const end = findClassEnd(seg, i);
      if (end < 0) {
        out += '\\[';
        continue;
      }
      let body = seg.slice(i + 1, end);
      let negate = false;
      if (body.startsWith('!') || body.startsWith('^')) {
        negate = true;
        body = body.slice(1);
      }
      const escaped = body.replace(/[\\\]^]/g, (m) => `\\${m}`);
      out += negate ? `[^/${escaped}]` : `[${escaped}]`;
      i = end;
    } else if (c === '\\' && i + 1 < seg.length) {
      out += escapeRegex(seg[i + 1] ?? '');
      i++;
    } else {
      out += escapeRegex(c);
    }
  }
  return out;
}

/** Index of the `]` closing a class opened at `start`, or -1 (then `[` is literal). */
function findClassEnd(seg: string, start: number): number {
  let j = start + 1;
  if (seg[j] === '!' || seg[j] === '^') j++;
  if (seg[j] === ']') j++; // a leading `]` is literal inside the class
  for (; j < seg.length; j++) if (seg[j] === ']') return j;
  return -1;
}

function escapeRegex(c: string): string {
  return /[.*+?^${}()|[\]\\/]/.test(c) ? `\\${c}` : c;
}

/** True when the glob contains a wildcard character. */
export function hasGlobChars(s: string): boolean {
  return /[*?[]/.test(s);
}
