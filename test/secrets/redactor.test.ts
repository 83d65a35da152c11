// The Redactor: each encoding of a per-run canary replaced by [REDACTED:NAME] in strings,
// Buffers and streams (values split at every chunk boundary), and short values refused.
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { SecretError } from '../../src/errors.js';
import { Redactor } from '../../src/secrets/redactor.js';

// Random bytes as latin1-ish text plus URL-hostile characters, so every encoding differs.
const canary = (): string => `sk-${randomBytes(9).toString('base64')}/+= &?é`;

function encodings(value: string): Record<string, string> {
  const b = Buffer.from(value, 'utf8');
  return {
    raw: value,
    base64: b.toString('base64'),
    base64NoPad: b.toString('base64').replace(/=+$/, ''),
    base64url: b.toString('base64url'),
    hexLower: b.toString('hex'),
    hexUpper: b.toString('hex').toUpperCase(),
    uriComponent: encodeURIComponent(value),
    uriComponentLowerHex: encodeURIComponent(value).replace(/%[0-9A-F]{2}/g, (m) =>
      m.toLowerCase(),
    ),
    form: new URLSearchParams({ v: value }).toString().slice(2),
    json: JSON.stringify(value).slice(1, -1),
  };
}

describe('Redactor', () => {
  it('replaces every encoding of the value inside surrounding text', () => {
    const value = canary();
    const r = new Redactor([{ name: 'API_KEY', value }]);
    for (const [kind, enc] of Object.entries(encodings(value))) {
      expect(r.redact(`before ${enc} after`), kind).toBe('before [REDACTED:API_KEY] after');
    }
  });

  it('finds the value embedded at each of the 3 byte offsets of a longer base64 stream', () => {
    const value = canary();
    const r = new Redactor([{ name: 'K', value }]);
    for (const prefix of ['', 'a', 'ab', 'abc', 'abcd']) {
      for (const url of [false, true]) {
        const bytes = Buffer.from(`${prefix}${value}tail-bytes`, 'utf8');
        const stream = bytes.toString(url ? 'base64url' : 'base64');
        const out = r.redact(stream);
        expect(out, `offset ${prefix.length} url=${url}`).toContain('[REDACTED:K]');
        // What is left encodes the prefix, the tail and at most one boundary char at each end.
        const left = out.split('[REDACTED:K]').join('');
        const bound = Math.ceil((8 * prefix.length) / 6) + Math.ceil((8 * 10) / 6) + 2 + 2;
        expect(left.length, `offset ${prefix.length}`).toBeLessThanOrEqual(bound);
      }
    }
  });

  it('redacts Buffers byte for byte and leaves non-secret binary data intact', () => {
    const value = canary();
    const r = new Redactor([{ name: 'K', value }]);
    const junk = Buffer.from([0, 255, 128, 10, 13, 0xc3]);
    const input = Buffer.concat([
      junk,
      Buffer.from(value),
      junk,
      Buffer.from(Buffer.from(value).toString('hex')),
      junk,
    ]);
    const expected = Buffer.concat([
      junk,
      Buffer.from('[REDACTED:K]'),
      junk,
      Buffer.from('[REDACTED:K]'),
      junk,
    ]);
    expect(r.redactBuffer(input).equals(expected)).toBe(true);
  });

  it('names each secret by its own name and leaves other text alone', () => {
    const [a, b] = [canary(), canary()];
    const r = new Redactor([
      { name: 'A_TOKEN', value: a },
      { name: 'B_TOKEN', value: b },
    ]);
    expect(r.redact(`x=${a};y=${Buffer.from(b).toString('hex')};z=plain`)).toBe(
      'x=[REDACTED:A_TOKEN];y=[REDACTED:B_TOKEN];z=plain',
    );
    expect(new Redactor([]).redact('nothing to hide')).toBe('nothing to hide');
  });

  it('refuses a value shorter than 8 characters with an error naming the secret', () => {
    let err: unknown;
    try {
      new Redactor([{ name: 'PIN', value: 'abc1234' }]);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SecretError);
    expect((err as SecretError).message).toContain('PIN');
    expect((err as SecretError).message).not.toContain('abc1234');
    expect(() => new Redactor([{ name: 'OK', value: 'abcd1234' }])).not.toThrow();
  });
});

describe('Redactor.createStream', () => {
  async function pipeChunks(r: Redactor, chunks: Buffer[]): Promise<string> {
    const out: Buffer[] = [];
    for await (const c of Readable.from(chunks).pipe(r.createStream())) out.push(c as Buffer);
    return Buffer.concat(out).toString('utf8');
  }

  it('redacts values split at every possible chunk boundary, for each encoding', async () => {
    const value = canary();
    const r = new Redactor([{ name: 'K', value }]);
    for (const [kind, enc] of Object.entries(encodings(value))) {
      const text = Buffer.from(`head ${enc} middle ${enc} end`, 'utf8');
      const expected = 'head [REDACTED:K] middle [REDACTED:K] end';
      for (let cut = 1; cut < text.length; cut += 1) {
        const got = await pipeChunks(r, [text.subarray(0, cut), text.subarray(cut)]);
        expect(got, `${kind} cut at ${cut}`).toBe(expected);
      }
    }
  });

  it('redacts when the stream arrives one byte at a time, across multi-byte characters', async () => {
    const value = canary();
    const r = new Redactor([{ name: 'K', value }]);
    const text = Buffer.from(`é ${value} 😀 ${Buffer.from(value).toString('base64')} ü`, 'utf8');
    const bytes = [...text].map((b) => Buffer.from([b]));
    expect(await pipeChunks(r, bytes)).toBe('é [REDACTED:K] 😀 [REDACTED:K] ü');
  });

  it('passes text through unchanged when it holds no secret', async () => {
    const r = new Redactor([{ name: 'K', value: canary() }]);
    const text = 'ordinary output\nwith lines\n';
    expect(await pipeChunks(r, [Buffer.from(text.slice(0, 5)), Buffer.from(text.slice(5))])).toBe(
      text,
    );
  });
});
