// Every spelling of a secret value the redactor looks for: raw, base64 (std/url, 3 offsets),
// hex, URL and form encoding, JSON-escaped. Each variant is a regex source string.

/** One spelling of a secret as a regex source, and its length in bytes. */
export interface Variant {
  source: string;
  bytes: number;
}

const escapeRegex = (s: string): string => s.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');

/** Regex source matching `s` with every ASCII letter in either case (for hex). */
function caseless(s: string): string {
  return s.replace(/[a-zA-Z]/g, (c) => `[${c.toLowerCase()}${c.toUpperCase()}]`);
}

/** Regex source matching a percent-encoded string with either case in the `%XX` digits. */
function percentCaseless(s: string): string {
  return s
    .split(/(%[0-9A-Fa-f]{2})/)
    .map((part, i) => (i % 2 === 1 ? `%${caseless(part.slice(1))}` : escapeRegex(part)))
    .join('');
}

/**
 * The base64 characters fully determined by `bytes` when it starts `offset` bytes (0..2)
 * into a longer base64 stream: the chars whose 6 bits all come from the value.
 */
export function base64Core(bytes: Buffer, offset: 0 | 1 | 2): string {
  const padded = Buffer.concat([Buffer.alloc(offset), bytes]);
  const encoded = padded.toString('base64');
  const first = Math.ceil((8 * offset) / 6);
  const last = Math.floor((8 * padded.length) / 6);
  return encoded.slice(first, last);
}

const toUrlSafe = (b64: string): string => b64.replace(/\+/g, '-').replace(/\//g, '_');

/** Form encoding (application/x-www-form-urlencoded), as URLSearchParams writes it. */
const formEncode = (s: string): string => new URLSearchParams({ v: s }).toString().slice(2);

/**
 * Variants as they appear in a JS string (`text`) and in raw bytes read as latin1 (`binary`).
 */
export function secretVariants(value: string): { text: Variant[]; binary: Variant[] } {
  const bytes = Buffer.from(value, 'utf8');
  const ascii: { s: string; kind: 'exact' | 'hex' | 'pct' }[] = [];
  const add = (s: string, kind: 'exact' | 'hex' | 'pct'): void => {
    if (s.length > 0) ascii.push({ s, kind });
  };
  add(bytes.toString('hex'), 'hex');
  const std = bytes.toString('base64');
  add(std, 'exact');
  add(std.replace(/=+$/, ''), 'exact');
  add(bytes.toString('base64url'), 'exact');
  for (const offset of [0, 1, 2] as const) {
    const core = base64Core(bytes, offset);
    add(core, 'exact');
    add(toUrlSafe(core), 'exact');
  }
  add(encodeURIComponent(value), 'pct');
  add(formEncode(value), 'pct');
  const json = JSON.stringify(value).slice(1, -1);

  const text = new Map<string, number>();
  const binary = new Map<string, number>();
  const put = (map: Map<string, number>, source: string, len: number): void => {
    map.set(source, Math.max(map.get(source) ?? 0, len));
  };
  const rawBinary = bytes.toString('latin1');
  put(text, escapeRegex(value), bytes.length);
  put(binary, escapeRegex(rawBinary), bytes.length);
  const jsonBytes = Buffer.from(json, 'utf8');
  put(text, escapeRegex(json), jsonBytes.length);
  put(binary, escapeRegex(jsonBytes.toString('latin1')), jsonBytes.length);
  for (const { s, kind } of ascii) {
    const source =
      kind === 'hex' ? caseless(s) : kind === 'pct' ? percentCaseless(s) : escapeRegex(s);
    put(text, source, s.length);
    put(binary, source, s.length);
  }
  const list = (m: Map<string, number>): Variant[] =>
    [...m].map(([source, len]) => ({ source, bytes: len }));
  return { text: list(text), binary: list(binary) };
}
