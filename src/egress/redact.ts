// Streamed redaction of secret values (raw, base64, hex, URL-encoded) in responses from
// hosts the proxy injected a credential toward; matches split across chunks are caught.
import { Transform, type TransformCallback } from 'node:stream';

export interface RedactionTarget {
  name: string;
  value: string;
}

interface Needle {
  bytes: Buffer;
  replacement: Buffer;
}

/** The encodings of a secret the proxy looks for. */
export function secretVariants(value: string): string[] {
  const raw = Buffer.from(value, 'utf8');
  const b64 = raw.toString('base64');
  const variants = [
    value,
    b64,
    b64.replace(/=+$/, ''),
    raw.toString('base64url'),
    raw.toString('hex'),
    raw.toString('hex').toUpperCase(),
    encodeURIComponent(value),
  ];
  return [...new Set(variants)].filter((v) => v.length > 0);
}

function needlesOf(targets: readonly RedactionTarget[]): Needle[] {
  const out: Needle[] = [];
  for (const t of targets) {
    const replacement = Buffer.from(`[REDACTED:${t.name}]`);
    for (const v of secretVariants(t.value)) out.push({ bytes: Buffer.from(v), replacement });
  }
  // Longest first so that a raw value never leaves the tail of a longer encoding behind.
  return out.sort((a, b) => b.bytes.length - a.bytes.length);
}

/** Replaces every variant in a header value or other short text. */
export function redactText(text: string, targets: readonly RedactionTarget[]): string {
  let out = text;
  for (const n of needlesOf(targets))
    out = out.split(n.bytes.toString()).join(n.replacement.toString());
  return out;
}

/** A Transform that redacts as bytes stream through, holding back at most one needle's length. */
export class RedactStream extends Transform {
  readonly #needles: Needle[];
  readonly #keep: number;
  #carry: Buffer = Buffer.alloc(0);

  constructor(targets: readonly RedactionTarget[]) {
    super();
    this.#needles = needlesOf(targets);
    this.#keep = Math.max(0, ...this.#needles.map((n) => n.bytes.length - 1));
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    const buf = this.#carry.length ? Buffer.concat([this.#carry, chunk]) : chunk;
    const parts: Buffer[] = [];
    let pos = 0;
    for (;;) {
      let best: { at: number; needle: Needle } | undefined;
      for (const needle of this.#needles) {
        const at = buf.indexOf(needle.bytes, pos);
        if (at >= 0 && (best === undefined || at < best.at)) best = { at, needle };
      }
      if (!best) break;
      parts.push(buf.subarray(pos, best.at), best.needle.replacement);
      pos = best.at + best.needle.bytes.length;
    }
    const keepFrom = Math.max(pos, buf.length - this.#keep);
    parts.push(buf.subarray(pos, keepFrom));
    this.#carry = Buffer.from(buf.subarray(keepFrom));
    cb(null, Buffer.concat(parts));
  }

  override _flush(cb: TransformCallback): void {
    cb(null, this.#carry);
  }
}
