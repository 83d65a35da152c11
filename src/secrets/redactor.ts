// Replaces every known secret value, in any common encoding, with `[REDACTED:NAME]`.
// Works on strings and Buffers; `createStream()` gives a Transform safe across chunk splits.
import { Transform, type TransformCallback } from 'node:stream';
import { SecretError } from '../errors.js';
import { secretVariants, type Variant } from './secret-variants.js';

/** Shorter values would redact ordinary words and numbers. */
export const MIN_SECRET_LENGTH = 8;

export interface RedactionSecret {
  name: string;
  value: string;
}

interface Matcher {
  regex: RegExp;
  names: string[];
  maxBytes: number;
}

function buildMatcher(entries: { name: string; variant: Variant }[]): Matcher {
  const sorted = [...entries].sort((a, b) => b.variant.bytes - a.variant.bytes);
  const seen = new Set<string>();
  const names: string[] = [];
  const groups: string[] = [];
  let maxBytes = 0;
  for (const { name, variant } of sorted) {
    if (seen.has(variant.source)) continue;
    seen.add(variant.source);
    groups.push(`(${variant.source})`);
    names.push(name);
    maxBytes = Math.max(maxBytes, variant.bytes);
  }
  // (?!) never matches: a redactor without secrets leaves everything as is.
  const source = groups.length > 0 ? groups.join('|') : '(?!)';
  return { regex: new RegExp(source, 'g'), names, maxBytes };
}

/**
 * Redacts secrets from text, bytes and streams.
 * @example new Redactor([{ name: 'GITHUB_TOKEN', value }]).redact(output)
 * @throws SecretError when a value is shorter than MIN_SECRET_LENGTH characters.
 */
export class Redactor {
  readonly #text: Matcher;
  readonly #binary: Matcher;

  constructor(secrets: readonly RedactionSecret[]) {
    const text: { name: string; variant: Variant }[] = [];
    const binary: { name: string; variant: Variant }[] = [];
    for (const { name, value } of secrets) {
      if (value.length < MIN_SECRET_LENGTH) {
        throw new SecretError(
          name,
          `secret ${name} is shorter than ${MIN_SECRET_LENGTH} characters and cannot be redacted reliably`,
        );
      }
      const variants = secretVariants(value);
      for (const variant of variants.text) text.push({ name, variant });
      for (const variant of variants.binary) binary.push({ name, variant });
    }
    this.#text = buildMatcher(text);
    this.#binary = buildMatcher(binary);
  }

  /** Longest variant in bytes: how much a stream must hold back between chunks. */
  get maxMatchBytes(): number {
    return this.#binary.maxBytes;
  }

  /** Returns `text` with every secret spelling replaced by `[REDACTED:NAME]`. */
  redact(text: string): string {
    return replaceAll(this.#text, text);
  }

  /** Byte-level redaction; bytes that are not secrets pass through unchanged (any encoding). */
  redactBuffer(data: Uint8Array): Buffer {
    const latin1 = Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('latin1');
    return Buffer.from(replaceAll(this.#binary, latin1), 'latin1');
  }

  /** A Transform that redacts a byte stream, holding back only what could start a match. */
  createStream(): Transform {
    return new RedactStream(this.#binary);
  }
}

function replacement(matcher: Matcher, match: RegExpExecArray | unknown[]): string {
  for (let i = 1; i < match.length; i += 1) {
    if (match[i] !== undefined) return `[REDACTED:${matcher.names[i - 1] ?? 'SECRET'}]`;
  }
  return '[REDACTED:SECRET]';
}

function replaceAll(matcher: Matcher, input: string): string {
  return input.replace(matcher.regex, (...args: unknown[]) =>
    replacement(matcher, args.slice(0, matcher.names.length + 1)),
  );
}

class RedactStream extends Transform {
  readonly #matcher: Matcher;
  #carry = '';

  constructor(matcher: Matcher) {
    super();
    this.#matcher = matcher;
  }

  override _transform(chunk: unknown, encoding: BufferEncoding, done: TransformCallback): void {
    const bytes =
      typeof chunk === 'string' ? Buffer.from(chunk, encoding) : Buffer.from(chunk as Uint8Array);
    const input = this.#carry + bytes.toString('latin1');
    // A match starting before `safe` has every byte it could need already in `input`.
    const safe = input.length - (this.#matcher.maxBytes - 1);
    if (safe <= 0) {
      this.#carry = input;
      done();
      return;
    }
    const regex = new RegExp(this.#matcher.regex.source, 'g');
    let out = '';
    let pos = 0;
    for (let m = regex.exec(input); m !== null && m.index < safe; m = regex.exec(input)) {
      out += input.slice(pos, m.index) + replacement(this.#matcher, m);
      pos = m.index + m[0].length;
    }
    const end = Math.max(pos, safe);
    out += input.slice(pos, end);
    this.#carry = input.slice(end);
    done(null, Buffer.from(out, 'latin1'));
  }

  override _flush(done: TransformCallback): void {
    const rest = replaceAll(this.#matcher, this.#carry);
    this.#carry = '';
    done(null, rest.length > 0 ? Buffer.from(rest, 'latin1') : undefined);
  }
}
